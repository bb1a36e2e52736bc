"""Which Fast DDS profile nano_vision's processes use (config/fastdds*.xml).

Both profiles give the shared-memory transport a segment large enough for camera
frames. With localhost-only discovery the UDP transport is also limited to the
loopback interface, so the ports a node listens on for discovery and data are on
127.0.0.1 only; for a robot on the network, the other profile leaves UDP on every
interface.
"""

import os

NETWORK_PROFILE = 'fastdds.xml'
LOCALHOST_PROFILE = 'fastdds_localhost.xml'
# Where a process is told its profile file: Fast DDS 3 (Kilted) reads the first, Fast DDS 2
# (Humble, Jazzy) the second; nano_vision sets both.
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def localhost_only(environ=None):
    """Return whether ROS 2 discovery is kept on this machine by ``environ``.

    ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (Jazzy and newer) without static peers, or,
    where that variable is unset, ``ROS_LOCALHOST_ONLY=1`` (Humble).
    """
    environ = os.environ if environ is None else environ
    if environ.get('ROS_STATIC_PEERS', '').strip():
        return False  # peers named by address may be other machines
    discovery = environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '').strip().upper()
    if discovery:
        return discovery == 'LOCALHOST'
    return environ.get('ROS_LOCALHOST_ONLY', '').strip() == '1'


def profile_file(environ=None):
    """Return the file name, under config/, of the profile for ``environ``."""
    return LOCALHOST_PROFILE if localhost_only(environ) else NETWORK_PROFILE


def profile_environment(default_path, environ=None):
    """Return the variables that give a process its Fast DDS profile.

    The file the user chose through either variable wins; else ``default_path``. Both
    variables get it, so every Fast DDS version reads the same file.
    """
    environ = os.environ if environ is None else environ
    chosen = next((environ[name] for name in PROFILE_VARIABLES if environ.get(name)), None)
    return {name: chosen or str(default_path) for name in PROFILE_VARIABLES}

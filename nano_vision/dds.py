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
# Where a process is told its profile file: Fast DDS 3 (Kilted and newer) reads the first,
# Fast DDS 2 (Humble, Jazzy) the second; given to Fast DDS 3, the second makes rmw_fastrtps
# warn at every start.
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
# The distributions (ROS_DISTRO) whose Fast DDS is version 2.
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


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

    The file the user chose through either variable wins; else ``default_path``. Fast DDS
    2 distributions (``ROS_DISTRO`` humble, iron, jazzy) get both variables, the others
    only the one Fast DDS 3 reads.
    """
    environ = os.environ if environ is None else environ
    chosen = next((environ[name] for name in PROFILE_VARIABLES if environ.get(name)), None)
    fast_dds_2 = environ.get('ROS_DISTRO', '').strip().lower() in FAST_DDS_2_DISTROS
    names = PROFILE_VARIABLES if fast_dds_2 else PROFILE_VARIABLES[:1]
    return {name: chosen or str(default_path) for name in names}

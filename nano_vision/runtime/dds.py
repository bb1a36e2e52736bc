"""Which Fast DDS profile nano_vision's processes use (config/fastdds*.xml), and how.

Both profiles give the shared-memory transport a segment large enough for camera
frames. For a robot on the network, ``fastdds.xml`` leaves UDP on every interface.
With localhost-only discovery, ``fastdds_localhost.xml`` keeps every socket of a
node on the loopback interface: see :func:`loopback_discovery`.
"""

from contextlib import contextmanager
import os

NETWORK_PROFILE = 'fastdds.xml'
LOCALHOST_PROFILE = 'fastdds_localhost.xml'
# Where a process is told its profile file: Fast DDS 3 (Kilted and newer) reads the first,
# Fast DDS 2 (Humble, Jazzy) the second; given to Fast DDS 3, the second makes rmw_fastrtps
# warn at every start.
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
# The distributions (ROS_DISTRO) whose Fast DDS is version 2.
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')
# RMW_IMPLEMENTATION values that mean Fast DDS ('' is the default rmw).
FAST_DDS_RMWS = ('', 'rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')


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
    names = PROFILE_VARIABLES if _distro(environ) in FAST_DDS_2_DISTROS else PROFILE_VARIABLES[:1]
    return {name: chosen or str(default_path) for name in names}


def profile_in_effect(environ=None):
    """Return the profile file this distribution's Fast DDS reads from ``environ`` ('' if none).

    Fast DDS 3 reads ``FASTDDS_DEFAULT_PROFILES_FILE``, Fast DDS 2 (``ROS_DISTRO`` humble,
    iron, jazzy) ``FASTRTPS_DEFAULT_PROFILES_FILE``.
    """
    environ = os.environ if environ is None else environ
    fast_dds_2 = _distro(environ) in FAST_DDS_2_DISTROS
    return environ.get(PROFILE_VARIABLES[1 if fast_dds_2 else 0], '')


def loopback_discovery(environ=None):
    """Return the variables a node process sets so that its DDS stays on loopback.

    rmw_fastrtps's own localhost mode (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``)
    adds its own UDP transport, without an interface allowlist, to whatever the profile
    says: its sending sockets bind 0.0.0.0 and the machine's address, where any host can
    send to them. ``fastdds_localhost.xml`` does the same discovery on loopback alone:
    UDP only through 127.0.0.1, participants announced to 127.0.0.1 (the ports of 32 of
    them, as rmw's mode does), no multicast listener. A process whose profile is that
    file therefore asks for the ``SUBNET`` range, which leaves Fast DDS as the profile
    configures it, and drops ``ROS_LOCALHOST_ONLY``, which would force rmw's mode.
    Processes in rmw's localhost mode (the ``ros2`` command line) and these discover
    each other.

    Returns ``{}`` (nothing to change) unless discovery is localhost-only, the rmw is
    Fast DDS, the distribution has discovery ranges (not Humble: its localhost mode
    keeps UDP on loopback itself), and the profile in effect is ``fastdds_localhost.xml``
    and exists. A value of None means: unset the variable.
    """
    environ = os.environ if environ is None else environ
    profile = profile_in_effect(environ)
    rmw = environ.get('RMW_IMPLEMENTATION', '').strip()
    if not (localhost_only(environ) and rmw in FAST_DDS_RMWS and _distro(environ) != 'humble'
            and os.path.basename(profile) == LOCALHOST_PROFILE and os.path.isfile(profile)):
        return {}
    return {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'ROS_LOCALHOST_ONLY': None}


@contextmanager
def on_loopback():
    """Apply :func:`loopback_discovery` to this process's environment, then restore it.

    Wrap ``rclpy.init``, where rcl reads the discovery variables; processes started
    later inherit the user's environment, not the change. Yields whether it applied.
    """
    changes = loopback_discovery()
    saved = {name: os.environ.get(name) for name in changes}
    _set_environment(changes)
    try:
        yield bool(changes)
    finally:
        _set_environment(saved)


def _distro(environ):
    return environ.get('ROS_DISTRO', '').strip().lower()


def _set_environment(values):
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

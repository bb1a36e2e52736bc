# Give this shell the nano_vision environment:  . ./activate.sh
# (the virtual environment, ROS 2 from it, the built workspace, and DDS
# discovery kept on this machine). Works in bash and zsh.

if [ -n "${BASH_SOURCE:-}" ]; then
  _nv_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
else
  _nv_root="$(cd "$(dirname "$0")" && pwd)"
fi

# NANO_VISION_ROS_DISTRO=jazzy: the environment `make setup ROS_DISTRO=jazzy` made.
_nv_distro="${NANO_VISION_ROS_DISTRO:-kilted}"
if [ "$_nv_distro" = kilted ]; then _nv_suffix=""; else _nv_suffix="-$_nv_distro"; fi
_nv_install="$_nv_root/install$_nv_suffix"
if [ ! -f "$_nv_root/.venv$_nv_suffix/bin/activate" ] || [ ! -f "$_nv_install/setup.sh" ]; then
  echo "nano_vision: $_nv_distro not set up yet; run 'make setup ROS_DISTRO=$_nv_distro' in $_nv_root first" >&2
  unset _nv_root _nv_distro _nv_suffix _nv_install
  return 1 2>/dev/null || exit 1
fi

. "$_nv_root/.venv$_nv_suffix/bin/activate"
# The venv holds the ROS packages (share/, lib/): make it an ament prefix so
# ament_index finds them, then overlay the workspace.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$VIRTUAL_ENV:"*) ;;
  *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
if [ -n "${ZSH_VERSION:-}" ]; then
  . "$_nv_install/setup.zsh"
elif [ -n "${BASH_VERSION:-}" ]; then
  . "$_nv_install/setup.bash"
else
  . "$_nv_install/setup.sh"
fi
# The node executables and the nano-vision command.
case ":$PATH:" in
  *":$_nv_install/nano_vision/lib/nano_vision:"*) ;;
  *) export PATH="$_nv_install/nano_vision/lib/nano_vision:$PATH" ;;
esac
# Where the tests and benchmarks find the built workspace; which distribution it is
# (as a ROS install's setup says it).
export NANO_VISION_INSTALL="$_nv_install" ROS_DISTRO="$_nv_distro"

# DDS discovery stays on this machine (Jazzy and newer read the first, Humble
# the second). To talk to a robot on the network, export
# ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET and unset ROS_LOCALHOST_ONLY.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
# Camera frames larger than Fast DDS's default shared-memory segment would go
# over UDP, and UDP stays on the loopback interface (config/fastdds_localhost.xml
# says why); keep a profile the user chose. On the network, use config/fastdds.xml.
# Fast DDS 3 (Kilted) reads FASTDDS_DEFAULT_PROFILES_FILE, Fast DDS 2 (Jazzy)
# FASTRTPS_DEFAULT_PROFILES_FILE (which Kilted's rmw_fastrtps warns about).
_nv_profile="${FASTDDS_DEFAULT_PROFILES_FILE:-${FASTRTPS_DEFAULT_PROFILES_FILE:-$_nv_root/config/fastdds_localhost.xml}}"
export FASTDDS_DEFAULT_PROFILES_FILE="$_nv_profile"
if [ "$_nv_distro" = kilted ]; then
  unset FASTRTPS_DEFAULT_PROFILES_FILE
else
  export FASTRTPS_DEFAULT_PROFILES_FILE="$_nv_profile"
fi
unset _nv_profile
unset _nv_root _nv_distro _nv_suffix _nv_install

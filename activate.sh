# Give this shell the nano_vision environment:  . ./activate.sh
# (the virtual environment, ROS 2 from it, the built workspace, and DDS
# discovery kept on this machine). Works in bash and zsh.

if [ -n "${BASH_SOURCE:-}" ]; then
  _nv_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
else
  _nv_root="$(cd "$(dirname "$0")" && pwd)"
fi

if [ ! -f "$_nv_root/.venv/bin/activate" ] || [ ! -f "$_nv_root/install/setup.sh" ]; then
  echo "nano_vision: not set up yet; run 'make setup' in $_nv_root first" >&2
  unset _nv_root
  return 1 2>/dev/null || exit 1
fi

. "$_nv_root/.venv/bin/activate"
# The venv holds the ROS packages (share/, lib/): make it an ament prefix so
# ament_index finds them, then overlay the workspace.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$VIRTUAL_ENV:"*) ;;
  *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
if [ -n "${ZSH_VERSION:-}" ]; then
  . "$_nv_root/install/setup.zsh"
elif [ -n "${BASH_VERSION:-}" ]; then
  . "$_nv_root/install/setup.bash"
else
  . "$_nv_root/install/setup.sh"
fi
# The node executables and the nano-vision command.
case ":$PATH:" in
  *":$_nv_root/install/nano_vision/lib/nano_vision:"*) ;;
  *) export PATH="$_nv_root/install/nano_vision/lib/nano_vision:$PATH" ;;
esac

# DDS discovery stays on this machine (Jazzy and newer read the first, Humble
# the second). To talk to a robot on the network, export
# ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET and unset ROS_LOCALHOST_ONLY.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
# Camera frames larger than Fast DDS's default shared-memory segment would go
# over UDP (config/fastdds.xml says why); keep a profile the user chose.
if [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="$_nv_root/config/fastdds.xml"
fi
unset _nv_root

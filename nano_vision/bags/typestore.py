"""The message types bags are written and decoded with: ROS 2 Kilted and ``nano_vision_msgs``.

``rosbags``' typestore of Kilted's standard messages, with the
``nano_vision_msgs`` types registered from their ``.msg`` files, so that a
recorded bag carries their definitions and any rosbag2 reader decodes it
without the package.
"""

import functools
import glob
import importlib.util
import logging
import os
from pathlib import Path

from rosbags.typesys import get_types_from_msg, get_typestore, Stores

LOG = logging.getLogger(__name__)

#: Package whose message definitions are registered from ``.msg`` files.
MSGS_PACKAGE = 'nano_vision_msgs'

#: The distribution whose standard message definitions bags carry.
ROS_DISTRO = 'kilted'
_STORE = Stores.ROS2_KILTED


def _msg_folder():
    """Return the folder of the ``nano_vision_msgs`` ``.msg`` files, or None."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(os.path.join(get_package_share_directory(MSGS_PACKAGE), 'msg'))
    except (ImportError, LookupError, OSError, ValueError):  # not installed, or no ament index
        pass
    # Without an ament index: <prefix>/lib/pythonX.Y/site-packages/<pkg> -> <prefix>/share.
    spec = importlib.util.find_spec(MSGS_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        parents = Path(location).resolve().parents
        if len(parents) > 3:
            candidates.append(str(parents[3] / 'share' / MSGS_PACKAGE / 'msg'))
    # A source checkout: the interface package sits beside the Python package.
    candidates.append(str(Path(__file__).resolve().parents[2] / MSGS_PACKAGE / 'msg'))
    for folder in candidates:
        if glob.glob(os.path.join(folder, '*.msg')):
            return folder
    return None


@functools.lru_cache(maxsize=None)
def project_typestore():
    """Return a typestore of ROS 2 (Kilted) with the ``nano_vision_msgs`` messages.

    The definitions come from the package's ``.msg`` files (installed share
    folder, else the source tree); without them only the standard types are
    known.
    """
    store = get_typestore(_STORE)
    folder = _msg_folder()
    if folder is None:
        LOG.warning('%s .msg files not found: its types cannot be recorded', MSGS_PACKAGE)
        return store
    types = {}
    for path in sorted(glob.glob(os.path.join(folder, '*.msg'))):
        name = f'{MSGS_PACKAGE}/msg/{os.path.splitext(os.path.basename(path))[0]}'
        with open(path, encoding='utf-8') as stream:
            types.update(get_types_from_msg(stream.read(), name))
    store.register(types)
    return store

"""Parameter table of every node, by executable name (for tests, launch checks and docs)."""

from nano_vision.camera_config import CAMERA_PARAMETERS

NODE_PARAMETERS = {
    'camera': CAMERA_PARAMETERS,
}

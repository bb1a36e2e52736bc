"""Parameter table of every node, by executable name (for tests, launch checks and docs)."""

from nano_vision.camera_config import CAMERA_PARAMETERS
from nano_vision.inference_config import (CLASSIFIER_PARAMETERS, OVERLAY_PARAMETERS,
                                          REGRESSOR_PARAMETERS)
from nano_vision.recorder_config import RECORDER_PARAMETERS
from nano_vision.sim import SIM_PARAMETERS
from nano_vision.steering import STEERING_PARAMETERS

NODE_PARAMETERS = {
    'camera': CAMERA_PARAMETERS,
    'classifier': CLASSIFIER_PARAMETERS,
    'regressor': REGRESSOR_PARAMETERS,
    'overlay': OVERLAY_PARAMETERS,
    'dataset_recorder': RECORDER_PARAMETERS,
    'steering': STEERING_PARAMETERS,
    'sim': SIM_PARAMETERS,
}

"""Parameter table of every node, by executable name (for tests, launch checks and docs)."""

from nano_vision.camera.config import CAMERA_PARAMETERS
from nano_vision.control.steering import STEERING_PARAMETERS
from nano_vision.datasets.recorder_config import RECORDER_PARAMETERS
from nano_vision.inference.config import (CLASSIFIER_PARAMETERS, DETECTOR_PARAMETERS,
                                          OVERLAY_PARAMETERS, REGRESSOR_PARAMETERS)
from nano_vision.scenes.line_following import SIM_PARAMETERS

NODE_PARAMETERS = {
    'camera': CAMERA_PARAMETERS,
    'classifier': CLASSIFIER_PARAMETERS,
    'regressor': REGRESSOR_PARAMETERS,
    'detector': DETECTOR_PARAMETERS,
    'overlay': OVERLAY_PARAMETERS,
    'dataset_recorder': RECORDER_PARAMETERS,
    'steering': STEERING_PARAMETERS,
    'sim': SIM_PARAMETERS,
}

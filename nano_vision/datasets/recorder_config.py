"""Parameters and validated configuration of the dataset_recorder node (no ROS)."""

from dataclasses import dataclass

from nano_vision.datasets.layout import TASKS
from nano_vision.datasets.recorder import check_label, RecorderError
from nano_vision.parameters import NodeConfig, ParamSpec

LABEL_SOURCES = ('fixed', 'ground_truth')

RECORDER_PARAMETERS = (
    ParamSpec('dataset', '', 'Dataset folder to write (created if missing); a folder '
              'recorded before keeps its samples and counts.'),
    ParamSpec('task', 'classification', 'classification writes <dataset>/<category>/'
              '<uuid>.jpg; xy writes <dataset>/<category>/<u>_<v>_<uuid>.jpg (u, v in '
              'pixels) and every capture needs a point.', choices=TASKS),
    ParamSpec('categories', (), 'Categories shown (with their counts) before their first '
              'sample, e.g. [thumbs_up, thumbs_down] or [nose, left_eye, right_eye].'),
    ParamSpec('label', '', 'Current category: used by continuous capture and by ~/capture '
              'calls with an empty label.', read_only=False),
    ParamSpec('continuous', False, 'Capture the newest frame rate_hz times a second with '
              'the current label (or the ground truth).', read_only=False),
    ParamSpec('rate_hz', 2.0, 'Captures per second in continuous mode.', read_only=False,
              min_value=0.1, max_value=30.0),
    ParamSpec('label_source', 'fixed', 'Labels of continuous captures: fixed uses label; '
              'ground_truth uses the ground_truth topic of a synthetic camera (its class, '
              'or for xy the point of the keypoint named by label, every keypoint when '
              'label is empty).', read_only=False, choices=LABEL_SOURCES),
    ParamSpec('jpeg_quality', 95, 'JPEG quality of the saved images.', read_only=False,
              min_value=1, max_value=100),
    ParamSpec('bag', '', 'Also record image, ground_truth and the current label (~/label, '
              'std_msgs/String) to this new rosbag2 folder (mcap); empty: no bag. The bag '
              'is closed when the node stops, also on Ctrl-C or SIGTERM.'),
    ParamSpec('port', 0, 'Serve the labelling page on this TCP port; 0: no page.',
              min_value=0, max_value=65535),
    ParamSpec('host', '127.0.0.1', 'Address the page listens on; 0.0.0.0 opens it to the '
              'network (anyone who reaches it can label and delete samples).'),
)


@dataclass(frozen=True)
class RecorderConfig(NodeConfig):
    """Checked settings of the dataset_recorder node."""

    PARAMETERS = RECORDER_PARAMETERS

    dataset: str
    task: str
    categories: tuple
    label: str
    continuous: bool
    rate_hz: float
    label_source: str
    jpeg_quality: int
    bag: str
    port: int
    host: str

    def check(self):
        """Refuse an empty dataset or host and labels that cannot be folder names."""
        if not self.dataset:
            raise ValueError('parameter dataset is empty: give the folder to record into, '
                             'e.g. --ros-args -p dataset:=data/thumbs')
        try:
            for name in self.categories:
                check_label(name)
            if self.label:
                check_label(self.label)
        except RecorderError as exc:
            raise ValueError(str(exc)) from None
        if not self.host:
            raise ValueError('parameter host is empty: use 127.0.0.1 (this machine only) '
                             'or 0.0.0.0 (every network interface)')

"""The detector node with real rclpy in this process: detections and heat maps of a frame."""

import os

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
torch = pytest.importorskip('torch')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.msg')
if not hasattr(nano_vision_msgs, 'Detections'):
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)

from nano_vision_msgs.msg import Detections  # noqa: E402, I100
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from test_inference_nodes import publish_until, stamped  # noqa: E402

from nano_vision.image.conversion import image_msg_to_numpy  # noqa: E402
from nano_vision.inference.windows import iou  # noqa: E402
from nano_vision.ml.cpu import available_cpus  # noqa: E402
from nano_vision.ml.recipe import TrainOptions  # noqa: E402
from nano_vision.ml.train import train  # noqa: E402
from nano_vision.nodes.detector import DetectorNode  # noqa: E402
from nano_vision.nodes.messages import found_objects, image_msg  # noqa: E402

COLOURS = {'blue': (220, 30, 30), 'red': (30, 30, 220)}  # BGR
SIDE = 24
# where the frame shows each square: both fall on windows of a 24-pixel grid at stride 0.5
TRUTH = {'red': (12, 12, SIDE, SIDE), 'blue': (60, 36, SIDE, SIDE)}


def write_windows(root, per_class=60, seed=0):
    """Write window-sized crops: noise (background), or a square filling most of the crop."""
    rng = np.random.default_rng(seed)
    for label in ('background', *COLOURS):
        os.makedirs(root / label, exist_ok=True)
        for i in range(per_class):
            crop = rng.integers(0, 90, (SIDE, SIDE, 3)).astype(np.uint8)
            if label != 'background':
                x, y = (int(v) for v in rng.integers(0, 5, 2))
                cv2.rectangle(crop, (x, y), (x + SIDE - 5, y + SIDE - 5), COLOURS[label], -1)
            cv2.imwrite(str(root / label / f'{i:03d}.png'), crop)
    return root


@pytest.fixture(scope='module')
def windows_model(tmp_path_factory):
    data = write_windows(tmp_path_factory.mktemp('windows'))
    out = tmp_path_factory.mktemp('model') / 'windows.pt'
    train(TrainOptions(data=str(data), out=str(out), epochs=3, image_size=32, progress=False,
                       plots=False), echo=lambda _: None)
    return str(out)


def scene_frame(seed=0):
    """Return an RGB 96x72 frame of noise with the squares of TRUTH."""
    bgr = np.random.default_rng(seed).integers(0, 90, (72, 96, 3)).astype(np.uint8)
    for label, (x, y, w, h) in TRUTH.items():
        cv2.rectangle(bgr, (x, y), (x + w - 1, y + h - 1), COLOURS[label], -1)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


PARAMETERS = {'window_size': float(SIDE), 'window_stride': 0.5, 'score_threshold': 0.5}


def test_a_frame_gives_its_objects_and_a_heat_map_with_its_stamp(ros, windows_model):
    ros.make(DetectorNode, {'model': windows_model, **PARAMETERS})
    probe = ros.probe()
    results, heat = [], []
    probe.create_subscription(Detections, 'detections', results.append, 10)
    probe.create_subscription(Image, 'heatmap', heat.append, 10)
    publisher = probe.create_publisher(Image, 'image', 10)
    msg = image_msg(scene_frame(), 'rgb8', stamped(1000))
    assert publish_until(ros, publisher, msg, lambda: results and heat)
    result = results[0]
    assert (result.header.stamp.sec, result.header.stamp.nanosec) == (1000, 123)
    assert result.header.frame_id == 'cam' and (result.width, result.height) == (96, 72)
    found = found_objects(result)
    assert {d.label for d in found} <= {'red', 'blue'}
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    for label, box in TRUTH.items():
        best = max((d for d in found if d.label == label), key=lambda d: d.score)
        assert iou(best.box, box) >= 0.5, (label, found)
    image = heat[0]
    assert image.encoding == 'mono8' and image.header.stamp.sec == 1000
    values = image_msg_to_numpy(image)
    assert values.shape == (72, 96)
    # the squares are hot, the corner no square reaches is cold
    assert values[24, 24] > 128 and values[48, 72] > 128 and values[71, 0] < 128


def test_a_detector_with_its_own_camera_finds_the_objects_in_its_frames(ros, windows_model,
                                                                        tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    cv2.imwrite(str(folder / '000.png'), cv2.cvtColor(scene_frame(), cv2.COLOR_RGB2BGR))
    node = ros.make(DetectorNode, {'model': windows_model, **PARAMETERS, 'source': str(folder),
                                   'width': 96, 'height': 72, 'fps': 30.0, 'frame_id': 'cam'})
    probe = ros.probe()
    results = []
    probe.create_subscription(Detections, 'detections', results.append, 10)
    assert ros.spin_until(lambda: len(results) >= 3, timeout_sec=20.0)
    stamps = [(r.header.stamp.sec, r.header.stamp.nanosec) for r in results]
    assert stamps == sorted(set(stamps)) and {r.header.frame_id for r in results} == {'cam'}
    for result in results:  # the folder's BGR frame reaches the windows in its colours
        assert (result.width, result.height) == (96, 72)
        found = found_objects(result)
        for label, box in TRUTH.items():
            best = max((d for d in found if d.label == label), key=lambda d: d.score)
            assert iou(best.box, box) >= 0.5, (label, found)
    assert node.capture.frames_published == 0  # nobody asked for the frames


def test_a_detector_with_every_core_prepares_each_frame_in_the_same_buffer(
        ros, windows_model, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    cv2.imwrite(str(folder / '000.png'), cv2.cvtColor(scene_frame(), cv2.COLOR_RGB2BGR))
    node = ros.make(DetectorNode, {'model': windows_model, **PARAMETERS, 'source': str(folder),
                                   'width': 96, 'height': 72, 'fps': 100.0,
                                   'threads': available_cpus()})
    assert not node.prepare_beside_model  # a worker prepares each frame after the model
    new_input, made = node.predictor.new_input, []

    def counted_new_input(count=1):
        made.append(count)
        return new_input(count)

    node.predictor.new_input = counted_new_input
    probe = ros.probe()
    results = []
    probe.create_subscription(Detections, 'detections', results.append, 10)
    assert ros.spin_until(lambda: len(results) >= 10, timeout_sec=20.0)
    # the grid's batch of windows is made once per worker, then filled frame after frame
    assert len(made) <= node.frames_in_flight, made


def test_window_settings_change_at_runtime_and_bad_ones_are_refused(ros, windows_model):
    node = ros.make(DetectorNode, {'model': windows_model, **PARAMETERS,
                                   'score_threshold': 0.0, 'iou_threshold': 1.0})
    probe = ros.probe()
    results = []
    probe.create_subscription(Detections, 'detections', results.append, 10)
    publisher = probe.create_publisher(Image, 'image', 10)
    msg = image_msg(scene_frame(), 'rgb8', stamped(1))
    assert publish_until(ros, publisher, msg, lambda: results)
    assert {d.width for d in results[0].detections} == {SIDE}
    assert node.set_parameters([Parameter('window_size', value=36.0),
                                Parameter('window_scales', value='1.0,2.0')])[0].successful
    msg.header.stamp.sec = 2
    answer = publish_until(ros, publisher, msg,
                           lambda: [r for r in results if r.header.stamp.sec == 2])
    assert answer and {d.width for d in answer[0].detections} <= {36, 72}
    config = node.config
    for name, value in (('window_scales', 'big'), ('window_stride', 0.0),
                        ('window_size', 0.0), ('background', 'red'), ('model', 'x.pt')):
        assert not node.set_parameters([Parameter(name, value=value)])[0].successful, name
    assert node.config is config


@pytest.mark.parametrize('parameters, message', [
    ({'background': 'sky'}, 'sky is not among'),
    ({'background': 'background,red,blue'}, 'nothing to detect'),
    ({'heatmap_class': 'green'}, "'green' is not one of the classes"),
    ({'window_scales': '1,x'}, 'comma-separated numbers')])
def test_classes_the_model_lacks_and_bad_grids_fail_at_start(ros, windows_model,
                                                             parameters, message):
    with pytest.raises(ValueError, match=message):
        ros.make(DetectorNode, {'model': windows_model, **parameters})


def test_a_frame_smaller_than_every_window_is_dropped_and_the_next_one_works(
        ros, windows_model):
    node = ros.make(DetectorNode, {'model': windows_model, **PARAMETERS})
    probe = ros.probe()
    results = []
    probe.create_subscription(Detections, 'detections', results.append, 10)
    publisher = probe.create_publisher(Image, 'image', 10)
    tiny = image_msg(scene_frame()[:10, :10].copy(), 'rgb8', stamped(5))
    assert publish_until(ros, publisher, tiny, lambda: node.rejected, timeout_sec=5.0)
    assert not results
    msg = image_msg(scene_frame(), 'rgb8', stamped(6))
    assert publish_until(ros, publisher, msg, lambda: results)
    assert results[0].header.stamp.sec == 6


def test_the_overlay_draws_the_boxes_on_the_frame_with_the_same_stamp(ros):
    from nano_vision_msgs.msg import Detection
    from nano_vision.image.drawing import label_colour
    from nano_vision.nodes.overlay import OverlayNode
    ros.make(OverlayNode, {'mode': 'detections'})
    probe = ros.probe()
    annotated = []
    probe.create_subscription(Image, 'image_annotated', annotated.append, 10)
    images = probe.create_publisher(Image, 'image', 10)
    boxes = probe.create_publisher(Detections, 'detections', 10)
    frames = {s: image_msg(np.full((120, 160, 3), 40 * s, np.uint8), 'rgb8', stamped(s))
              for s in (1, 2)}
    result = Detections(header=stamped(2), width=160, height=120, detections=[
        Detection(label='red', score=0.9, x=60, y=50, width=40, height=40)])
    for _ in range(50):
        for frame in frames.values():
            images.publish(frame)
        boxes.publish(result)
        if ros.spin_until(lambda: annotated, timeout_sec=0.2):
            break
    assert annotated and annotated[0].header.stamp.sec == 2
    pixels = image_msg_to_numpy(annotated[0])
    original = image_msg_to_numpy(frames[2])
    # the box's edges carry the label's colour; inside and far outside the frame is untouched
    assert tuple(pixels[70, 60]) == label_colour('red') == tuple(pixels[89, 99])
    assert (pixels[60:80, 70:90] == original[60:80, 70:90]).all()
    assert (pixels[-10:, :10] == original[-10:, :10]).all()


def test_draw_heatmap_colours_hot_pixels_and_leaves_cold_ones():
    from nano_vision.image.drawing import draw_heatmap
    image = np.full((40, 60, 3), 100, np.uint8)
    heat = np.zeros((20, 30), np.uint8)  # half the image's size: stretched to it
    heat[:10, :15] = 255
    heat[10:, 15:] = 128
    draw_heatmap(image, heat, opacity=0.6)
    assert (image[20:, :30] == 100).all()  # cold: as it was
    hot, warm = image[5, 5].astype(int), image[30, 45].astype(int)
    assert hot[0] > hot[2] and hot[0] != 100  # probability 1: towards red
    # half the heat: half the weight, another colour of the map
    assert np.abs(warm - 100).max() < np.abs(hot - 100).max()
    assert not (warm == hot).all()


def test_the_overlay_blends_the_heat_map_of_the_same_stamp_under_the_boxes(ros):
    from nano_vision_msgs.msg import Detection
    from nano_vision.image.drawing import label_colour
    from nano_vision.nodes.overlay import OverlayNode
    node = ros.make(OverlayNode, {'mode': 'detections', 'heatmap': True})
    probe = ros.probe()
    annotated = []
    probe.create_subscription(Image, 'image_annotated', annotated.append, 10)
    images = probe.create_publisher(Image, 'image', 10)
    boxes = probe.create_publisher(Detections, 'detections', 10)
    heatmaps = probe.create_publisher(Image, 'heatmap', 10)
    frame = image_msg(np.full((120, 160, 3), 80, np.uint8), 'rgb8', stamped(3))
    result = Detections(header=stamped(3), width=160, height=120, detections=[
        Detection(label='red', score=0.9, x=60, y=50, width=40, height=40)])
    heat = np.zeros((120, 160), np.uint8)
    heat[50:90, 60:100] = 255
    # frame and boxes without their heat map: nothing is drawn yet
    for _ in range(10):
        images.publish(frame)
        boxes.publish(result)
        ros.spin_until(lambda: node.matcher.paired, timeout_sec=0.2)
    assert node.matcher.paired and not annotated
    # the heat map of another frame does not complete it either
    heatmaps.publish(image_msg(heat, 'mono8', stamped(4)))
    ros.spin_until(lambda: annotated, timeout_sec=0.5)
    assert not annotated
    heatmaps.publish(image_msg(heat, 'mono8', stamped(3)))
    assert ros.spin_until(lambda: annotated, timeout_sec=5.0)
    assert annotated[0].header.stamp.sec == 3 and len(annotated) == 1
    pixels = image_msg_to_numpy(annotated[0]).astype(int)
    assert (pixels[:40, :40] == 80).all()  # cold: untouched
    inside = pixels[70, 80]
    assert inside[0] > inside[2] and tuple(inside) != (80, 80, 80)  # hot: towards red
    assert tuple(pixels[70, 60]) == label_colour('red')  # the box over the heat

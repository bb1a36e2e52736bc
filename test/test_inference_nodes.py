"""Classifier, regressor and overlay nodes with real rclpy in this process."""

import array
import math
import threading
import time

import cv2
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
torch = pytest.importorskip('torch')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.msg')
if not hasattr(nano_vision_msgs, 'Classification'):
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)

from builtin_interfaces.msg import Time  # noqa: E402, I100
from geometry_msgs.msg import PointStamped  # noqa: E402
from nano_vision_msgs.msg import (Classification, GroundTruth, InferenceStats,  # noqa: E402
                                  Keypoints)
from rclpy.duration import Duration  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402

from helpers import make_squares  # noqa: E402
from nano_vision.camera.sources import SourceError  # noqa: E402
from nano_vision.datasets.synth import write_synthetic_dataset  # noqa: E402
from nano_vision.image.conversion import image_msg_to_numpy  # noqa: E402
from nano_vision.inference.live import (LatestSlot, prepare_beside_model,  # noqa: E402
                                        PrepareSchedule)
from nano_vision.ml.cpu import available_cpus  # noqa: E402
from nano_vision.ml.recipe import TrainOptions  # noqa: E402
from nano_vision.ml.train import train  # noqa: E402
from nano_vision.nodes import classifier as classifier_module  # noqa: E402
from nano_vision.nodes.camera import CameraNode  # noqa: E402
from nano_vision.nodes.classifier import ClassifierNode  # noqa: E402
from nano_vision.nodes.messages import (compressed_image_msg, image_msg,  # noqa: E402
                                        make_header, stamp_ns)
from nano_vision.nodes.overlay import OverlayNode  # noqa: E402
from nano_vision.nodes.regressor import RegressorNode  # noqa: E402


def quiet(**kwargs):
    return TrainOptions(progress=False, plots=False, **kwargs)


@pytest.fixture(scope='module')
def squares_model(tmp_path_factory):
    data = make_squares(tmp_path_factory.mktemp('squares'))
    out = tmp_path_factory.mktemp('model') / 'squares.pt'
    train(quiet(data=str(data), out=str(out), epochs=3, image_size=32), echo=lambda _: None)
    return str(out)


@pytest.fixture(scope='module')
def face_model(tmp_path_factory):
    """Train a face keypoint model on synthetic frames of the camera's aspect (4:3)."""
    data = tmp_path_factory.mktemp('faces')
    write_synthetic_dataset('face', str(data), 300, size=(128, 96), seed=11)
    out = tmp_path_factory.mktemp('model') / 'face.pt'
    # batches of 8: many small steps give a usable model in the fewest seconds
    result = train(quiet(data=str(data), out=str(out), epochs=20, image_size=64,
                         batch_size=8, patience=20), echo=lambda _: None)
    assert result.metrics['rmse'] < 0.13, result.metrics
    return str(out)


@pytest.fixture(scope='module')
def squares_onnx(squares_model):
    """Return the squares classifier exported to ONNX (ONNX Runtime runs frames at once)."""
    from nano_vision.ml.export import export_onnx
    return export_onnx(squares_model)[0]


def square_frame(colour_bgr, width=96, height=72, seed=0):
    """Return an RGB frame with one coloured square, like the training set."""
    rng = np.random.default_rng(seed)
    bgr = rng.integers(0, 90, (height, width, 3)).astype(np.uint8)
    cv2.rectangle(bgr, (20, 15), (50, 45), colour_bgr, -1)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def publish_until(ros, publisher, msg, predicate, timeout_sec=20.0):
    """Publish ``msg`` five times a second until ``predicate()`` holds; return its value."""
    deadline = time.monotonic() + timeout_sec
    while time.monotonic() < deadline:
        publisher.publish(msg)
        result = ros.spin_until(predicate, timeout_sec=0.2)
        if result:
            return result
    return predicate()


def stamped(header_stamp_sec, frame_id='cam'):
    from std_msgs.msg import Header
    header = Header(frame_id=frame_id)
    header.stamp.sec = header_stamp_sec
    header.stamp.nanosec = 123
    return header


def test_a_frame_gives_a_classification_with_its_stamp(ros, squares_model):
    node = ros.make(ClassifierNode, {'model': squares_model})
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    publisher = probe.create_publisher(Image, 'image', 10)
    red = image_msg(square_frame((30, 30, 220)), 'rgb8', stamped(1000))
    blue = image_msg(square_frame((220, 30, 30), seed=1), 'rgb8', stamped(1001))

    assert publish_until(ros, publisher, red, lambda: results)
    result = results[0]
    assert (result.header.stamp.sec, result.header.stamp.nanosec) == (1000, 123)
    assert result.header.frame_id == 'cam'
    assert list(result.class_names) == ['blue', 'red'] and result.label == 'red'
    assert sum(result.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert result.confidence == max(result.probabilities)
    answer = publish_until(ros, publisher, blue,
                           lambda: [r for r in results if r.header.stamp.sec == 1001])
    assert answer and answer[0].label == 'blue', (node.slot.received, node.stats.processed)


def test_compressed_frames_and_the_confidence_threshold(ros, squares_model):
    node = ros.make(ClassifierNode, {'model': squares_model, 'image_transport': 'compressed',
                                     'min_confidence': 1.0})
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    publisher = probe.create_publisher(CompressedImage, 'image/compressed', 10)
    msg = compressed_image_msg(square_frame((30, 30, 220)), 'rgb8', stamped(7))
    assert publish_until(ros, publisher, msg, lambda: results)
    assert results[0].label == 'unknown' and results[0].class_id == -1
    assert results[0].header.stamp.sec == 7
    from rclpy.parameter import Parameter
    assert node.set_parameters([Parameter('min_confidence', value=0.0)])[0].successful
    assert node.config.min_confidence == 0.0
    msg.header.stamp.sec = 8
    answer = publish_until(ros, publisher, msg,
                           lambda: [r for r in results if r.header.stamp.sec == 8])
    assert answer and answer[0].label == 'red'
    config = node.config
    for name, value in (('min_confidence', 1.5), ('min_confidence', 1), ('smoothing_frames', 3),
                        ('model', 'other.pt')):
        assert not node.set_parameters([Parameter(name, value=value)])[0].successful, name
    assert node.config is config


def test_the_regressor_and_the_overlay_refuse_runtime_changes_but_take_use_sim_time(
        ros, small_models):
    from rclpy.parameter import Parameter
    for node, name, value in (
            (ros.make(RegressorNode, {'model': small_models['face_xy']}), 'keypoint', 'nose'),
            (ros.make(OverlayNode), 'mode', 'keypoints')):
        config = node.config
        result = node.set_parameters([Parameter(name, value=value)])[0]
        assert not result.successful and 'read-only' in result.reason
        assert node.config is config
        assert node.set_parameters([Parameter('use_sim_time', value=True)])[0].successful
        assert node.get_clock().ros_time_is_active


@pytest.mark.slow
def test_regressor_publishes_keypoints_and_a_point_with_the_frame_header(ros, face_model):
    ros.make(RegressorNode, {'model': face_model, 'keypoint': 'left_eye'})
    probe = ros.probe()
    keypoints, points = [], []
    probe.create_subscription(Keypoints, 'keypoints', keypoints.append, 10)
    probe.create_subscription(PointStamped, 'point', points.append, 10)
    publisher = probe.create_publisher(Image, 'image', 10)
    frame = image_msg(np.full((480, 640, 3), 90, np.uint8), 'rgb8', stamped(55))
    assert publish_until(ros, publisher, frame, lambda: keypoints and points)
    msg = keypoints[0]
    assert msg.header.stamp.sec == 55 and (msg.width, msg.height) == (640, 480)
    assert [k.name for k in msg.keypoints] == ['left_eye', 'nose', 'right_eye']
    for k in msg.keypoints:
        assert k.u == pytest.approx((k.x + 1) * 320, abs=1e-3)
        assert k.v == pytest.approx((k.y + 1) * 240, abs=1e-3)
    left = msg.keypoints[0]
    assert (points[0].point.x, points[0].point.y) == pytest.approx((left.x, left.y))
    assert points[0].header.stamp.sec == 55


@pytest.mark.slow
def test_face_pipeline_finds_the_synthetic_truth(ros, face_model):
    """Acceptance: camera -> regressor, keypoints within 0.1 of the truth on average."""
    ros.make(CameraNode, {'source': 'synthetic:face', 'width': 320, 'height': 240,
                          'fps': 15.0, 'seed': 99})
    ros.make(RegressorNode, {'model': face_model},
             cli_args=['--ros-args', '-r', 'image:=image_raw'])
    probe = ros.probe()
    truths, results = {}, []
    probe.create_subscription(GroundTruth, 'ground_truth',
                              lambda m: truths.__setitem__(stamp_ns(m.header), m), 50)
    probe.create_subscription(Keypoints, 'keypoints', results.append, 50)

    def paired():
        return [(r, truths[stamp_ns(r.header)]) for r in results
                if stamp_ns(r.header) in truths]
    assert ros.spin_until(lambda: len(paired()) >= 30, timeout_sec=60)
    errors = []
    for result, truth in paired():
        want = {k.name: (k.x, k.y) for k in truth.keypoints}
        for k in result.keypoints:
            errors.append(np.hypot(k.x - want[k.name][0], k.y - want[k.name][1]))
    print(f'face pipeline: mean keypoint error {np.mean(errors):.4f} over {len(errors)} points')
    assert np.mean(errors) < 0.1, f'mean error {np.mean(errors):.3f}'


@pytest.mark.slow
def test_overload_drops_old_frames_instead_of_queueing(ros, squares_model):
    node = ros.make(ClassifierNode, {'model': squares_model, 'stats_period_sec': 0.5})
    probe = ros.probe()
    results, stats = [], []
    probe.create_subscription(Classification, 'classification', results.append, 100)
    probe.create_subscription(InferenceStats, 'classifier/stats', stats.append, 10)
    frame = square_frame((30, 30, 220), 640, 480)
    # how long the model takes here, then frames four times as fast
    started = time.perf_counter()
    for _ in range(5):
        node.predictor.predict(frame, 'rgb8')
    model_sec = (time.perf_counter() - started) / 5
    publisher = probe.create_publisher(Image, 'image', qos_profile_sensor_data)
    period = model_sec / 4
    sent = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        msg = image_msg(frame, 'rgb8', make_header(probe.get_clock().now().to_msg(), 'cam'))
        publisher.publish(msg)
        sent += 1
        next_frame = time.monotonic() + period
        while time.monotonic() < next_frame:
            ros.executor.spin_once(timeout_sec=max(0.0, next_frame - time.monotonic()))
    assert ros.spin_until(lambda: stats and stats[-1].frames_processed > 5), (
        stats[-1:], node.slot.received, node.stats.processed, sent)
    last = stats[-1]
    assert last.frames_dropped > 0.4 * last.frames_received  # most frames are skipped...
    assert last.frames_processed + last.frames_dropped <= last.frames_received
    # ...so the answers stay fresh: no queue of old frames builds up
    assert last.latency_ms_p99 < 10 * max(last.model_latency_ms_p50, 1.0)
    assert last.backend == 'torch' and last.device == 'cpu'


def test_frames_with_unusable_stamps_are_counted_and_keep_the_latency_finite(ros, squares_model):
    ros.make(ClassifierNode, {'model': squares_model, 'stats_period_sec': 0.5})
    probe = ros.probe()
    results, stats = [], []
    probe.create_subscription(Classification, 'classification', results.append, 100)
    probe.create_subscription(InferenceStats, 'classifier/stats', stats.append, 10)
    publisher = probe.create_publisher(Image, 'image', qos_profile_sensor_data)
    frame = square_frame((30, 30, 220))
    now = probe.get_clock().now()
    for header in (make_header(now.to_msg(), 'cam'), make_header(Time(), 'cam'),
                   make_header((now + Duration(seconds=3600)).to_msg(), 'cam'),
                   make_header(probe.get_clock().now().to_msg(), 'cam')):
        count = len(results)
        publish_until(ros, publisher, image_msg(frame, 'rgb8', header),
                      lambda: len(results) > count)
    assert ros.spin_until(lambda: stats and stats[-1].frames_processed >= 4)
    last = stats[-1]
    # a driver that leaves stamps at 0, or a clock an hour ahead: counted, never a NaN
    assert last.frames_unusable_stamp >= 2
    assert last.frames_unusable_stamp < last.frames_processed
    assert math.isfinite(last.latency_ms_p50) and math.isfinite(last.latency_ms_p99)
    assert 0.0 < last.latency_ms_p50 < 60_000.0


def test_the_statistics_window_leaves_unusable_stamps_out_of_the_latency():
    from nano_vision.inference.live import InferenceStats as StatsWindow
    clock = iter(range(100))
    window = StatsWindow(window=10, clock=lambda: float(next(clock)))
    for latency in (5.0, None, 7.0, None, 9.0):
        window.record(2.0, latency)
    snapshot = window.snapshot()
    assert window.unusable_stamps == 2 and window.processed == 5
    assert snapshot['latency_ms_p50'] == 7.0 and snapshot['model_ms_p50'] == 2.0
    assert snapshot['fps'] == 1.0
    only_bad = StatsWindow()
    only_bad.record(2.0, None)
    assert only_bad.snapshot()['latency_ms_p50'] == 0.0


def test_only_a_recent_past_stamp_gives_a_latency():
    from nano_vision.nodes.messages import MAX_STAMP_AGE_NS, stamp_age_ms
    now_ns = 2000 * 10**9 + 500
    header = stamped(2000)  # 2000 s + 123 ns
    assert stamp_age_ms(header, now_ns) == pytest.approx(377 / 1e6)
    assert stamp_age_ms(header, now_ns + 5 * 10**6) == pytest.approx(5.000377)
    assert stamp_age_ms(stamped(0), now_ns) is None  # never stamped
    assert stamp_age_ms(stamped(2001), now_ns) is None  # stamped by a clock ahead of this one
    assert stamp_age_ms(header, stamp_ns(header) + MAX_STAMP_AGE_NS) is None


ENCODINGS = st.sampled_from(['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'yuv422', '16UC1',
                             '', 'RGB8', '8UC3', 'jpeg'])


@st.composite
def malformed_images(draw):
    height = draw(st.integers(0, 40))
    width = draw(st.integers(0, 40))
    step = draw(st.one_of(st.integers(0, 200), st.just(width * 3)))
    length = draw(st.one_of(st.integers(0, 4000), st.just(step * height)))
    msg = Image(height=height, width=width, encoding=draw(ENCODINGS),
                is_bigendian=draw(st.integers(0, 1)), step=step)
    msg.data = array.array('B', bytes(length))  # the layout is what gets fuzzed
    return msg


@pytest.mark.skipif(available_cpus() < 2, reason='needs a CPU beside the model')
def test_the_next_frame_is_prepared_during_the_model_and_only_the_newest(ros, squares_model):
    threads = torch.get_num_threads()  # the node's threads:=1 sets torch's, for the process
    try:
        check_frames_prepared_during_the_model(ros, squares_model)
    finally:
        torch.set_num_threads(threads)


def check_frames_prepared_during_the_model(ros, squares_model):
    node = ros.make(ClassifierNode, {'model': squares_model, 'threads': 1})
    assert node.prepare_beside_model  # a CPU is left beside the model's one thread
    predictor = node.predictor
    run, prepare = predictor.run, predictor.prepare
    model_busy, release = threading.Event(), threading.Event()
    prepared = []

    def held_run(batch):  # the real model, held until the test lets it finish
        model_busy.set()
        assert release.wait(30)
        return run(batch)

    def recorded_prepare(images, encoding='rgb8', out=None):
        batch = prepare(images, encoding, out)
        prepared.append(batch[0].copy())
        return batch

    predictor.run, predictor.prepare = held_run, recorded_prepare
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    colours = {1: (30, 30, 220), 2: (220, 30, 30), 3: (220, 30, 30), 4: (30, 30, 220)}

    def arrive(sec):  # what the image subscription does with a message
        node.slot.put(image_msg(square_frame(colours[sec]), 'rgb8', stamped(sec)))

    arrive(1)
    assert model_busy.wait(10)
    arrive(2)  # prepared while the model still runs frame 1
    assert ros.spin_until(lambda: len(prepared) == 2, timeout_sec=10)
    # while frame 2 waits for the model, nothing more is prepared: frame 4 replaces 3
    # in the slot unprepared (a camera faster than the model costs no preprocessing)
    arrive(3)
    arrive(4)
    time.sleep(0.5)
    assert len(prepared) == 2 and node.stats_message().frames_dropped == 1
    release.set()
    assert ros.spin_until(lambda: len(results) == 3, timeout_sec=20)
    time.sleep(0.3)
    assert [r.header.stamp.sec for r in results] == [1, 2, 4] and len(prepared) == 3
    stats = node.stats_message()
    assert (stats.frames_received, stats.frames_processed, stats.frames_dropped) == (4, 3, 1)
    # every frame went through the real preprocessing into its own input
    assert not np.allclose(prepared[0], prepared[1])
    assert not np.allclose(prepared[1], prepared[2])
    assert [r.label for r in results] == ['red', 'blue', 'red']


def test_frames_are_prepared_beside_the_model_only_where_a_cpu_is_left():
    assert prepare_beside_model('cpu', 1, 2) and prepare_beside_model('cpu', 4, 8)
    assert not prepare_beside_model('cpu', 2, 2)  # every CPU is the model's: after it
    assert prepare_beside_model('cuda', 4, 4) and prepare_beside_model('tensorrt', 1, 1)


def test_the_slot_numbers_the_items_in_the_order_they_were_taken():
    slot = LatestSlot()
    slot.put('a')
    assert slot.take_numbered(0.0) == (1, 'a')
    slot.put('b')
    slot.put('c')  # replaces b, which is never taken
    assert slot.take_numbered(0.0) == (2, 'c') and slot.dropped == 1
    assert slot.take_numbered(0.01) == (2, None)
    taken = []
    consumers = [threading.Thread(target=lambda: taken.append(slot.take_numbered(5.0)))
                 for _ in range(2)]
    for consumer in consumers:
        consumer.start()
    slot.put('d')
    time.sleep(0.05)
    slot.put('e')
    for consumer in consumers:
        consumer.join()
    assert sorted(taken) == [(3, 'd'), (4, 'e')]  # the later one taken, the newer item


def all_cores(parameters):
    """Node parameters giving the model every CPU (its threads: one per CPU)."""
    return {'threads': available_cpus(), **parameters}


@pytest.mark.skipif(available_cpus() < 2, reason='two frames share two or more CPUs')
def test_two_frames_share_the_cores_and_their_results_go_out_in_order(
        ros, squares_onnx, tmp_path):
    write_frames(tmp_path / 'frames', (30, 30, 220))
    node = ros.make(ClassifierNode, all_cores({
        'model': squares_onnx, 'backend': 'onnxruntime', 'source': str(tmp_path / 'frames'),
        'width': 96, 'height': 72, 'fps': 400.0, 'stats_period_sec': 0.5}))
    assert node.predictor.concurrent and not node.prepare_beside_model
    assert node.frames_in_flight == 2 and [t.name for t in node._threads] == [
        'inference', 'inference-2']
    run, lock = node.predictor.run, threading.Lock()
    running, most, runners = [0], [0], set()

    def counted_run(batch):  # the real model, slower than the camera; who runs, how many
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            runners.add(threading.current_thread().name)
        try:
            time.sleep(0.01)
            return run(batch)
        finally:
            with lock:
                running[0] -= 1

    node.predictor.run = counted_run
    probe = ros.probe()
    results, stats = [], []
    probe.create_subscription(Classification, 'classification', results.append, 100)
    probe.create_subscription(InferenceStats, 'classifier/stats', stats.append, 10)
    assert ros.spin_until(lambda: len(results) >= 40, timeout_sec=30.0)
    assert most[0] == 2 and runners == {'inference', 'inference-2'}
    stamps = [stamp_ns(r.header) for r in results]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert {r.label for r in results} == {'red'}
    assert ros.spin_until(lambda: stats and stats[-1].frames_processed >= 40)
    last = stats[-1]
    assert last.frames_processed + last.frames_dropped <= last.frames_received


def test_a_result_finishing_before_that_of_an_older_frame_waits_for_it(ros, squares_onnx):
    node = ros.make(ClassifierNode, all_cores({'model': squares_onnx,
                                               'backend': 'onnxruntime',
                                               'smoothing_frames': 2}))
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    red = image_msg(square_frame((30, 30, 220)), 'rgb8', stamped(1))
    blue = image_msg(square_frame((220, 30, 30)), 'rgb8', stamped(2))
    node.frame_taken(1)
    node.frame_taken(2)  # two workers took red, then blue
    first, second = node.prepare(red, None, order=1), node.prepare(blue, None, order=2)
    red_alone, blue_alone = (node.predictor.infer(item.batch)[0].probabilities
                             for item in (first, second))
    node.finish(second)  # the frame taken later is done first...
    node.frame_done(2)
    ros.spin_until(lambda: results, timeout_sec=0.5)
    assert results == []  # ...and waits for the red one's result
    node.finish(first)
    node.frame_done(1)
    assert ros.spin_until(lambda: len(results) == 2)
    assert [r.header.stamp.sec for r in results] == [1, 2] and results[0].label == 'red'
    # smoothed in that order: red alone, then red and blue averaged
    assert list(results[0].probabilities) == pytest.approx(list(red_alone), abs=1e-6)
    assert list(results[1].probabilities) == pytest.approx(
        list((np.asarray(red_alone) + blue_alone) / 2), abs=1e-6)
    assert node.stats.processed == 2 and not node._waiting and not node._in_flight


def test_one_frame_at_a_time_where_frames_cannot_share_the_model(ros, squares_model,
                                                                 squares_onnx, face_model):
    torch_node = ros.make(ClassifierNode, all_cores({'model': squares_model}))
    assert not torch_node.predictor.concurrent and torch_node.frames_in_flight == 1
    assert [t.name for t in torch_node._threads] == ['inference']
    if available_cpus() > 1:  # a CPU beside the model: it prepares frames there instead
        beside = ros.make(ClassifierNode, {'model': squares_onnx, 'backend': 'onnxruntime',
                                           'threads': 1})
        assert beside.prepare_beside_model and beside.frames_in_flight == 1
    # the regressor's points steer: one frame at a time unless asked
    regressor = ros.make(RegressorNode, all_cores({'model': face_model}))
    assert regressor.config.frames_in_flight == 1


def test_the_prepare_schedule_aims_at_the_end_of_the_model():
    now = [10.0]
    schedule = PrepareSchedule(clock=lambda: now[0])
    assert schedule.delay() == 0.0  # no timings yet: prepare what comes
    schedule.model_started()
    assert schedule.delay() == 0.0  # the model's time is not known yet
    now[0] += 0.100
    schedule.model_finished()
    schedule.prepared(0.010)
    schedule.frame_ready()
    assert schedule.delay() is None  # a prepared frame waits: nothing more until it is taken
    assert not schedule.wait(timeout=0.01)
    schedule.model_started()
    # due at 100 ms less 1.5 x the 10 ms a frame takes less 0.5 ms
    assert schedule.delay() == pytest.approx(0.100 - 0.015 - 0.0005)
    now[0] += 0.050
    assert schedule.delay() == pytest.approx(0.050 - 0.015 - 0.0005)
    now[0] += 0.050
    assert schedule.delay() == 0.0 and schedule.wait(timeout=0.01)  # late: at once
    schedule.model_finished()
    assert schedule.model_seconds == pytest.approx(0.100)
    schedule.prepared(0.020)  # the averages follow the newest times
    assert schedule.prepare_seconds == pytest.approx(0.010 + 0.2 * 0.010)
    assert schedule.delay() == 0.0  # the model is idle


def test_fuzzed_images_never_kill_the_classifier(ros, squares_model):
    node = ros.make(ClassifierNode, {'model': squares_model})
    count = {'n': 0}

    @settings(max_examples=1000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(malformed_images())
    def feed(msg):
        node.process(msg)  # the worker's path for every frame
        count['n'] += 1
    feed()
    assert count['n'] == 1000
    assert node.rejected > 0
    # and over DDS: garbage first, then a good frame still gets its answer
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    publisher = probe.create_publisher(Image, 'image', 10)
    for width in range(1, 30):
        publisher.publish(Image(height=2, width=width, encoding='yuv422', step=1))
    good = image_msg(square_frame((30, 30, 220)), 'rgb8', stamped(3))
    assert publish_until(ros, publisher, good, lambda: results)
    assert all(thread.is_alive() for thread in node._threads)


def test_any_frame_size_works(ros, squares_model):
    node = ros.make(ClassifierNode, {'model': squares_model})
    for height, width, encoding in ((1, 1, 'rgb8'), (1080, 1920, 'bgr8'), (31, 7, 'mono8'),
                                    (5, 300, 'bgra8')):
        channels = {'mono8': 1, 'rgb8': 3, 'bgr8': 3, 'bgra8': 4}[encoding]
        shape = (height, width) if channels == 1 else (height, width, channels)
        msg = image_msg(np.zeros(shape, np.uint8), encoding, stamped(1))
        before = node.stats.processed
        node.process(msg)
        assert node.stats.processed == before + 1


def test_overlay_draws_on_the_frame_with_the_same_stamp(ros):
    ros.make(OverlayNode, {'mode': 'classification'})
    probe = ros.probe()
    annotated = []
    probe.create_subscription(Image, 'image_annotated', annotated.append, 10)
    images = probe.create_publisher(Image, 'image', 10)
    labels = probe.create_publisher(Classification, 'classification', 10)
    frames = {s: image_msg(np.full((120, 160, 3), 40 * s, np.uint8), 'rgb8', stamped(s))
              for s in (1, 2, 3)}
    result = Classification(header=stamped(2), label='red', class_id=1, confidence=0.9,
                            class_names=['blue', 'red'], probabilities=[0.1, 0.9])

    for _ in range(50):
        for frame in frames.values():
            images.publish(frame)
        labels.publish(result)
        if ros.spin_until(lambda: annotated, timeout_sec=0.2):
            break
    assert annotated
    out = annotated[0]
    assert out.header.stamp.sec == 2 and out.encoding == 'rgb8'
    pixels = image_msg_to_numpy(out)
    original = image_msg_to_numpy(frames[2])
    assert (pixels != original).any()  # something was drawn...
    assert (pixels[-10:, -10:] == original[-10:, -10:]).all()  # ...on that frame


def test_a_lazy_overlay_subscribes_only_while_someone_watches_so_the_camera_rests(
        ros, squares_model, tmp_path):
    write_frames(tmp_path / 'frames', (30, 30, 220))
    node = ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'frames'),
                                     'width': 96, 'height': 72, 'fps': 60.0})
    overlay = ros.make(OverlayNode, {'mode': 'classification'})  # lazy by default
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    assert ros.spin_until(lambda: len(results) >= 10, timeout_sec=20.0)
    # nobody watches: the overlay has no inputs, the camera converts and publishes nothing
    assert not overlay.subscribed and overlay.count_subscribers('image_annotated') == 0
    assert node.capture.frames_published == 0
    annotated = []
    viewer = probe.create_subscription(Image, 'image_annotated', annotated.append, 10)
    assert ros.spin_until(lambda: len(annotated) >= 5, timeout_sec=20.0)
    assert overlay.subscribed and node.capture.frames_published >= 5
    labelled = {stamp_ns(r.header) for r in results}
    assert {stamp_ns(a.header) for a in annotated} <= labelled  # drawn on labelled frames
    # the viewer goes: the overlay lets go of the frames, and the camera stops publishing
    probe.destroy_subscription(viewer)
    assert ros.spin_until(lambda: not overlay.subscribed, timeout_sec=10.0)
    assert ros.spin_until(lambda: node.count_subscribers('image') == 0, timeout_sec=10.0)
    published, done = node.capture.frames_published, len(results)
    assert ros.spin_until(lambda: len(results) >= done + 10, timeout_sec=20.0)
    assert node.capture.frames_published <= published + 1  # one may have been on its way


def test_an_overlay_that_is_not_lazy_subscribes_at_once(ros):
    overlay = ros.make(OverlayNode, {'mode': 'keypoints', 'lazy': False})
    assert overlay.subscribed
    probe = ros.probe()
    images = probe.create_publisher(Image, 'image', 10)
    assert ros.spin_until(lambda: images.get_subscription_count() == 1, timeout_sec=10.0)


def write_frames(folder, colour_bgr, count=3):
    """Write ``count`` square frames (PNG, lossless); return their RGB pixels."""
    folder.mkdir()
    frames = [square_frame(colour_bgr, seed=i) for i in range(count)]
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f'{i:03d}.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return frames


@pytest.mark.parametrize('colour, label', [((30, 30, 220), 'red'), ((220, 30, 30), 'blue')])
def test_an_in_process_camera_labels_its_frames_and_shows_them_only_to_a_subscriber(
        ros, squares_model, tmp_path, colour, label):
    frames = write_frames(tmp_path / 'frames', colour)
    node = ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'frames'),
                                     'width': 96, 'height': 72, 'fps': 60.0,
                                     'frame_id': 'cam'})
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    assert ros.spin_until(lambda: len(results) >= 5, timeout_sec=20.0)
    # the source's BGR frames reach the model in its colour order, stamped when read
    assert {r.label for r in results} == {label}
    assert {r.header.frame_id for r in results} == {'cam'}
    stamps = [stamp_ns(r.header) for r in results]
    assert stamps == sorted(set(stamps)) and stamps[0] > 0
    assert node.capture.frames_published == 0  # nobody asked for the frames
    images = []
    probe.create_subscription(Image, 'image', images.append, qos_profile_sensor_data)
    infos = []
    probe.create_subscription(CameraInfo, 'camera_info', infos.append, qos_profile_sensor_data)

    def shown_and_labelled():
        labelled = {stamp_ns(r.header) for r in results}
        return [i for i in images if stamp_ns(i.header) in labelled] and infos
    assert ros.spin_until(shown_and_labelled, timeout_sec=20.0)
    image = images[-1]
    assert (image.width, image.height, image.encoding) == (96, 72, 'rgb8')
    assert image.header.frame_id == 'cam' and (infos[-1].width, infos[-1].height) == (96, 72)
    pixels = image_msg_to_numpy(image)
    assert any((pixels == rgb).all() for rgb in frames)


def test_an_in_process_camera_publishes_jpeg_frames_while_someone_subscribes(
        ros, squares_model, tmp_path):
    frames = write_frames(tmp_path / 'frames', (30, 30, 220))
    node = ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'frames'),
                                     'width': 96, 'height': 72, 'fps': 60.0,
                                     'publish_compressed': True, 'jpeg_quality': 95})
    probe = ros.probe()
    results, jpegs = [], []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    probe.create_subscription(CompressedImage, 'image/compressed', jpegs.append,
                              qos_profile_sensor_data)
    assert ros.spin_until(lambda: len(jpegs) >= 3 and len(results) >= 3, timeout_sec=20.0)
    assert jpegs[-1].format.startswith('rgb8; jpeg')
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(bytes(jpegs[-1].data), np.uint8),
                                        cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert decoded.shape == (72, 96, 3)
    # one of the frames, in RGB (JPEG keeps the colours, not the noise of each pixel)
    assert min(np.abs(decoded.mean((0, 1)) - rgb.mean((0, 1))).max() for rgb in frames) < 3.0
    assert node.capture.frames_published == 0  # nobody asked for the raw frames
    assert {r.label for r in results} == {'red'}


def test_an_in_process_camera_decodes_only_the_frames_the_model_takes(
        ros, squares_model, tmp_path):
    write_frames(tmp_path / 'frames', (30, 30, 220))
    node = ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'frames'),
                                     'width': 96, 'height': 72, 'fps': 200.0})
    source = node.capture.source
    retrieve, decoded = source.retrieve, []

    def counted_retrieve():
        decoded.append(threading.current_thread().name)
        return retrieve()

    run = node.predictor.run

    def slow_run(batch):  # a model slower than the camera: 20 frames a second at most
        time.sleep(0.05)
        return run(batch)

    source.retrieve, node.predictor.run = counted_retrieve, slow_run
    probe = ros.probe()
    results = []
    probe.create_subscription(Classification, 'classification', results.append, 10)
    assert ros.spin_until(lambda: len(results) >= 10, timeout_sec=20.0)
    captured, taken, done = node.capture.frames_captured, len(decoded), len(results)
    # every frame was grabbed and stamped; only those the model takes were decoded,
    # by the node's worker, not the capture thread
    assert captured > 3 * taken and taken <= done + 2
    assert set(decoded) == {'prepare' if node.prepare_beside_model else 'inference'}
    assert {r.label for r in results} == {'red'}
    # someone watching the frames gets every one: then each is decoded as it is grabbed
    images = []
    probe.create_subscription(Image, 'image', images.append, qos_profile_sensor_data)
    assert ros.spin_until(lambda: len(images) >= 20, timeout_sec=20.0)
    assert 'capture' in decoded
    assert ros.spin_until(lambda: len(results) >= done + 5, timeout_sec=20.0)


def test_a_regressor_with_its_own_camera_gives_keypoints_in_the_frames_pixels(
        ros, small_models):
    ros.make(RegressorNode, {'model': small_models['face_xy'], 'source': 'synthetic:face',
                             'width': 160, 'height': 120, 'fps': 30.0})
    probe = ros.probe()
    results, truths = [], []
    probe.create_subscription(Keypoints, 'keypoints', results.append, 10)
    probe.create_subscription(GroundTruth, 'ground_truth', truths.append, 50)
    # the scene's truth goes out with the header of its frame's result, for scoring
    assert ros.spin_until(lambda: len(results) >= 2 and {stamp_ns(t.header) for t in truths}
                          & {stamp_ns(r.header) for r in results}, timeout_sec=20.0)
    assert (results[0].width, results[0].height) == (160, 120)
    assert results[0].header.frame_id == 'camera_optical_frame'
    assert stamp_ns(results[1].header) > stamp_ns(results[0].header)
    assert truths[0].scene == 'face' and truths[0].width == 160


def test_an_in_process_camera_that_cannot_work_fails_at_start(ros, squares_model, tmp_path):
    with pytest.raises(ValueError, match='nor an existing file or folder'):
        ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'none')})
    with pytest.raises(ValueError, match='width and height must both be 0'):
        ros.make(ClassifierNode, {'model': squares_model, 'source': 'synthetic:face',
                                  'width': 0})
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SourceError, match='holds no images'):
        ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'empty')})


def test_an_in_process_camera_at_its_end_ends_the_node_cleanly(ros, squares_model, tmp_path):
    write_frames(tmp_path / 'frames', (30, 30, 220), count=2)
    node = ros.make(ClassifierNode, {'model': squares_model, 'source': str(tmp_path / 'frames'),
                                     'loop': False, 'fps': 20.0})
    assert node.done.wait(10.0)
    assert node.failure is None and node.capture.frames_captured == 2


@pytest.mark.parametrize('parameters, message', [
    ({}, 'model is empty'),
    ({'model': '/no/such/model.pt'}, 'does not exist'),
    ({'model': '/no/such/model.onnx'}, 'does not exist'),
])
def test_missing_models_fail_at_start(ros, parameters, message):
    with pytest.raises(ValueError, match=message):
        ros.make(ClassifierNode, parameters)


def test_wrong_task_corrupt_or_foreign_models_fail_at_start(ros, squares_model, small_models,
                                                            tmp_path):
    face_model = small_models['face_xy']  # loads, is not good: enough to be refused
    with pytest.raises(ValueError, match='is a xy model; run it with the regressor'):
        ros.make(ClassifierNode, {'model': face_model})
    with pytest.raises(ValueError, match='is a classification model; run it with the classi'):
        ros.make(RegressorNode, {'model': squares_model})
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(open(squares_model, 'rb').read()[:5000])
    with pytest.raises(ValueError, match='not a model file'):
        ros.make(ClassifierNode, {'model': str(corrupt)})
    with pytest.raises(ValueError, match='another project'):
        ros.make(ClassifierNode, {'model': squares_model,
                                  'expected_names': 'thumbs_up,thumbs_down'})
    with pytest.raises(ValueError, match="keypoint 'tail' is not in the model"):
        ros.make(RegressorNode, {'model': face_model, 'keypoint': 'tail'})
    # a file whose names do not fit its outputs: refused at start, not an IndexError later
    edited = torch.load(squares_model, weights_only=True)
    edited['names'] = edited['names'][:1]
    torch.save(edited, tmp_path / 'edited.pt')
    with pytest.raises(ValueError, match='2 outputs but 1 names'):
        ros.make(ClassifierNode, {'model': str(tmp_path / 'edited.pt')})


def test_main_exits_non_zero_for_a_bad_model(tmp_path):
    (tmp_path / 'bad.pt').write_bytes(b'\x80\x02' + bytes(range(98)))
    status = classifier_module.main(['--ros-args', '-p', f'model:={tmp_path / "bad.pt"}',
                                     '-r', '__ns:=/t_main_bad_model'])
    assert status == 2


def test_tensorrt_without_its_provider_stops_the_node_with_what_to_install(ros, tmp_path,
                                                                           capfd):
    onnxruntime = pytest.importorskip('onnxruntime')
    if 'TensorrtExecutionProvider' in onnxruntime.get_available_providers():
        pytest.skip('this ONNX Runtime has TensorRT')
    from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint
    from nano_vision.ml.export import export_onnx
    from nano_vision.ml.model import build_model
    from nano_vision.image.preprocess import Preprocessing
    model = tmp_path / 'thumbs.pt'  # untrained: only its providers matter here
    save_checkpoint(make_checkpoint(build_model('resnet18', 2), task='classification',
                                    arch='resnet18', names=['thumbs_up', 'thumbs_down'],
                                    preprocessing=Preprocessing(32)), str(model))
    onnx_path, _ = export_onnx(str(model))
    with pytest.raises(ValueError, match='no TensorrtExecutionProvider'):
        ros.make(ClassifierNode, {'model': onnx_path, 'device': 'tensorrt'})
    status = classifier_module.main(['--ros-args', '-p', f'model:={onnx_path}',
                                     '-p', 'device:=tensorrt', '-r', '__ns:=/t_main_trt'])
    assert status == 2
    assert 'onnxruntime-gpu built with TensorRT' in capfd.readouterr().err

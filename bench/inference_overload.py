"""Camera 4x faster than the model: latency stays bounded because old frames are dropped.

Starts the installed ``camera`` (synthetic scene) and ``classifier`` executables
in their own processes, the camera at four times the rate the model can
follow on this machine, and reads the classifier's ``~/stats``: end-to-end
latency (image stamp to published result) against the model's own latency,
and the frames it dropped. Merges the numbers into bench/results.json.

Run after ``. ./activate.sh``:  python bench/inference_overload.py [--seconds 20]
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'

from nano_vision_msgs.msg import InferenceStats  # noqa: E402, I100
import rclpy  # noqa: E402

from nano_vision.image.preprocess import Preprocessing  # noqa: E402
from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint  # noqa: E402
from nano_vision.ml.model import build_model  # noqa: E402
from nano_vision.ml.predictor import load_predictor  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / 'install' / 'nano_vision' / 'lib' / 'nano_vision'
sys.path.insert(0, str(ROOT / 'bench'))
from machine import machine, RESULTS, store_results  # noqa: E402, I100


def model_latency(path, width, height, repeats=40):
    """Return the median seconds of one prediction (preprocessing included)."""
    predictor = load_predictor(path, device='cpu')
    frame = np.zeros((height, width, 3), np.uint8)
    for _ in range(5):
        predictor.predict(frame)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        predictor.predict(frame)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


class StatsReader:
    """Spins a node that keeps the classifier's latest ``~/stats`` message."""

    def __init__(self, namespace):
        """Subscribe to ``<namespace>/classifier/stats``."""
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('bench_overload', namespace=namespace,
                                      context=self.context)
        self.latest = None
        self.node.create_subscription(InferenceStats, 'classifier/stats', self._keep, 10)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _keep(self, msg):
        self.latest = msg

    def wait(self, condition, timeout, what):
        """Spin until ``condition(latest)`` holds; exit with a message after ``timeout`` s."""
        end = time.monotonic() + timeout
        while not (self.latest is not None and condition(self.latest)):
            if time.monotonic() > end:
                sys.exit(f'gave up waiting for {what}: is the workspace built?')
            self.executor.spin_once(timeout_sec=0.1)
        return self.latest

    def close(self):
        """Shut the node and its context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def main():
    """Calibrate the overload, run it and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=30.0,
                        help='measured seconds (at least one full statistics window)')
    parser.add_argument('--overload', type=float, default=4.0,
                        help='camera rate over the rate the classifier sustains')
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: one short calibration, a few seconds, results.json '
                        'left alone')
    args = parser.parse_args()
    width, height = 320, 240
    window = 300  # frames in the classifier's statistics window (nano_vision.inference.live)
    calibration_sec, attempts = 8, 4
    if args.quick:
        args.seconds, window, calibration_sec, attempts = 3.0, 10, 2, 1
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, 'bench.pt')
        # the weights do not matter for timing: an untrained ResNet-18, two classes
        save_checkpoint(make_checkpoint(build_model('resnet18', 2), task='classification',
                                        arch='resnet18', names=['a', 'b'],
                                        preprocessing=Preprocessing(args.input_size)), model)
        model_sec = model_latency(model, width, height)
        namespace = f'/bench_{uuid.uuid4().hex[:8]}'
        common = ['--ros-args', '-r', f'__ns:={namespace}', '--log-level', 'warn']

        def camera(fps):
            return subprocess.Popen([str(BIN / 'camera'), *common, '-p',
                                     'source:=synthetic:thumbs', '-p', f'width:={width}',
                                     '-p', f'height:={height}', '-p', f'fps:={fps}'])

        classifier = subprocess.Popen([str(BIN / 'classifier'), *common, '-p',
                                       f'model:={model}', '-p', 'stats_period_sec:=1.0',
                                       '-r', 'image:=image_raw'])
        fps = min(240.0, args.overload / model_sec)
        cam = camera(fps)
        reader = StatsReader(namespace)
        try:
            # 1. the camera's own load slows the model: adjust the camera rate until
            #    frames arrive ``overload`` times faster than results come out
            before = 0
            for _ in range(attempts):
                first = reader.wait(lambda m: m.frames_processed > 10 and
                                    m.frames_received > before, 120, 'results')
                calib = reader.wait(
                    lambda m: m.header.stamp.sec - first.header.stamp.sec >= calibration_sec, 30,
                    'calibration')
                sustained = (calib.frames_processed - first.frames_processed) / (
                    calib.header.stamp.sec - first.header.stamp.sec)
                ratio = (calib.frames_received - first.frames_received) / max(
                    calib.frames_processed - first.frames_processed, 1)
                if abs(ratio - args.overload) < 0.03 * args.overload:
                    break
                fps = min(240.0, fps * args.overload / ratio)
                cam.terminate()
                cam.wait(timeout=10)
                cam = camera(fps)
                before = calib.frames_received + 20
            # 2. the camera at ``overload`` times that rate; the window holds only these frames
            start = reader.wait(lambda m: m.frames_received > before, 30, 'the camera')
            last = reader.wait(
                lambda m: m.frames_processed - start.frames_processed >= window and
                m.header.stamp.sec - start.header.stamp.sec >= args.seconds,
                args.seconds * 4 + 60, 'the measurement')
        finally:
            for child in (cam, classifier):
                child.terminate()
            for child in (cam, classifier):
                child.wait(timeout=10)
            reader.close()
    seconds = last.header.stamp.sec - start.header.stamp.sec + (
        last.header.stamp.nanosec - start.header.stamp.nanosec) / 1e9
    received = last.frames_received - start.frames_received
    processed = last.frames_processed - start.frames_processed
    dropped = last.frames_dropped - start.frames_dropped
    row = {
        'frame': f'{width}x{height}', 'model_input': args.input_size,
        'model_ms_alone': round(model_sec * 1e3, 2),
        'sustained_results_per_s': round(sustained, 1),
        'camera_fps_requested': round(fps, 1),
        'frames_received_per_s': round(received / seconds, 1),
        'results_per_s': round(processed / seconds, 1),
        'overload': round(received / max(processed, 1), 2),
        'dropped_fraction': round(dropped / max(received, 1), 3),
        'model_ms_p50': round(last.model_latency_ms_p50, 2),
        'latency_ms_p50': round(last.latency_ms_p50, 2),
        'latency_ms_p99': round(last.latency_ms_p99, 2),
    }
    row['p99_over_model_p50'] = round(row['latency_ms_p99'] / row['model_ms_p50'], 2)
    row['p99_over_model_alone'] = round(row['latency_ms_p99'] / row['model_ms_alone'], 2)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}")
    for key, value in row.items():
        print(f'{key:>24}: {value}')
    if args.quick:
        return
    store_results('inference_overload', {'machine': info, 'row': row,
                                         'date': time.strftime('%Y-%m-%d')})
    print(f'written to {RESULTS}')


if __name__ == '__main__':
    main()

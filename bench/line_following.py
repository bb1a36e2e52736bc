"""Closed-loop line following in the simulator: a trained regressor against the oracle.

Runs the installed executables in their own processes, as
launch/line_following.launch.py does with ``source:=sim``: ``sim`` ->
``regressor`` (the model) -> ``steering`` -> ``cmd_vel`` -> ``sim``, with the
parameters of config/line_following.yaml, until the robot has driven
``--laps`` laps of the track (the held-out track by default) or left it. Then
the same with the oracle: the steering node follows the simulator's
ground-truth target instead of the model. Prints and merges into
bench/results.json: laps, cross-track error (mean and max of |error| over every
frame), time on the track, and the regressor's rate and latency.

``--train`` first renders a dataset of the training tracks
(``nano-vision dataset synth --scene line_following``) and trains the model.

Run after ``. ./activate.sh``:
python bench/line_following.py --model road.pt
python bench/line_following.py --train --out-dir /tmp/road   # dataset, training, both loops
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid

import numpy as np

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'

from nano_vision_msgs.msg import InferenceStats, TrackState  # noqa: E402, I100
import rclpy  # noqa: E402

from nano_vision.nodes.graph import GRAPHS, ros_arguments  # noqa: E402
from nano_vision.scenes.track import HELD_OUT_TRACK  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / 'install' / 'nano_vision' / 'lib' / 'nano_vision'
CONFIG = ROOT / 'config' / 'line_following.yaml'
sys.path.insert(0, str(ROOT / 'bench'))
from machine import machine  # noqa: E402, I100

# Giving up: this long off the track, the robot is lost.
LOST_AFTER_SEC = 3.0


class Monitor:
    """Collect the simulator's TrackState and the regressor's statistics."""

    def __init__(self, namespace):
        """Subscribe in ``namespace``."""
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('bench_line_following', namespace=namespace,
                                      context=self.context)
        self.states = []
        self.stats = None
        self.node.create_subscription(TrackState, 'track_state', self.states.append, 100)
        self.node.create_subscription(InferenceStats, 'regressor/stats', self._keep, 10)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _keep(self, msg):
        self.stats = msg

    def spin(self, seconds):
        """Spin for ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)

    def close(self):
        """Shut the node and its context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def node_commands(args, namespace, model=None):
    """Return ``{executable: argv}`` of line_following.launch.py's nodes in the simulator.

    Wired by its graph (nano_vision/nodes/graph.py), oracle:=true without a model; the
    overlay is left out (nothing watches it here).
    """
    graph = GRAPHS['line_following']
    arguments = graph.argument_values({'source': 'sim', 'track': args.track, 'model': model or '',
                                       'oracle': str(model is None).lower(),
                                       'namespace': namespace})
    extra = {'sim': {'laps': args.laps, 'seed': args.seed},
             'regressor': {'stats_period_sec': 2.0}}
    return {node.executable: [str(BIN / node.executable),
                              *ros_arguments(node, arguments, str(CONFIG),
                                             extra.get(node.executable)),
                              '--log-level', 'warn']
            for node in graph.running(arguments) if node.executable != 'overlay'}


def drive(args, model=None):
    """Run one closed loop; return its row (model=None: the oracle)."""
    namespace = f'/bench_lf_{uuid.uuid4().hex[:8]}'
    commands = node_commands(args, namespace, model)
    sim = subprocess.Popen(commands['sim'])
    children = [sim]
    if model is not None:
        children.append(subprocess.Popen(commands['regressor']))
    monitor = Monitor(namespace)
    try:
        monitor.spin(1.0 if model is None else 5.0)  # the model loads before the robot moves
        children.append(subprocess.Popen(commands['steering']))
        started, lost_since = time.monotonic(), None
        while sim.poll() is None and time.monotonic() - started < args.timeout:
            monitor.spin(0.5)
            state = monitor.states[-1] if monitor.states else None
            if state is not None and not state.on_track:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_AFTER_SEC:
                    break
            else:
                lost_since = None
        seconds = time.monotonic() - started
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(2)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        stats = monitor.stats
        states = list(monitor.states)
        monitor.close()
    moving = [s for s in states if s.linear != 0.0 or s.progress != 0.0]
    errors = np.abs([s.cross_track_error for s in moving]) if moving else np.array([np.nan])
    row = {
        'driver': 'oracle' if model is None else 'model',
        'track': args.track,
        'laps': int(states[-1].laps) if states else 0,
        'progress': round(float(states[-1].progress), 3) if states else 0.0,
        'seconds': round(seconds, 1),
        'mean_abs_cte_m': round(float(errors.mean()), 4),
        'max_abs_cte_m': round(float(errors.max()), 4),
        'on_track_fraction': round(float(np.mean([s.on_track for s in moving])), 4)
        if moving else 0.0,
        'frames': len(moving),
    }
    if model is not None and stats is not None:
        row.update(model=str(model), regressor_fps=round(stats.fps, 1),
                   model_ms_p50=round(stats.model_latency_ms_p50, 2),
                   latency_ms_p50=round(stats.latency_ms_p50, 2),
                   latency_ms_p99=round(stats.latency_ms_p99, 2))
    return row


def train(args):
    """Render the dataset of the training tracks and train the regressor; return the model."""
    out = pathlib.Path(args.out_dir)
    data, model = out / 'data', out / 'line_following.pt'
    subprocess.run(['nano-vision', 'dataset', 'synth', '--scene', 'line_following',
                    '--count', str(args.count), '--seed', '1', '--out', str(data)], check=True)
    subprocess.run(['nano-vision', 'train', str(data), '--out', str(model), '--image-size',
                    str(args.image_size), '--epochs', str(args.epochs), '--batch-size', '32',
                    '--no-progress'], check=True)
    return model


def main():
    """Drive with the model and with the oracle, print and store the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', help='regressor model (.pt or .onnx) with a target point')
    parser.add_argument('--train', action='store_true',
                        help='render a dataset and train the model first')
    parser.add_argument('--out-dir', default='line_following_bench',
                        help='with --train: where the dataset and the model go')
    parser.add_argument('--count', type=int, default=3000, help='with --train: images')
    parser.add_argument('--epochs', type=int, default=25, help='with --train: epochs')
    parser.add_argument('--image-size', type=int, default=112, help='with --train')
    parser.add_argument('--track', default=HELD_OUT_TRACK)
    parser.add_argument('--laps', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0, help='floor, tape and light')
    parser.add_argument('--timeout', type=float, default=600.0, help='seconds per loop')
    args = parser.parse_args()
    if args.train:
        args.model = str(train(args))
    if not args.model:
        parser.error('give --model or --train')
    rows = [drive(args, args.model), drive(args)]
    model_row, oracle_row = rows
    ratio = model_row['mean_abs_cte_m'] / oracle_row['mean_abs_cte_m']
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}")
    for row in rows:
        print(json.dumps(row))
    print(f'model / oracle mean |cross-track error|: {ratio:.2f}')
    path = ROOT / 'bench' / 'results.json'
    results = json.loads(path.read_text()) if path.exists() else {}
    results['line_following'] = {'machine': info, 'rows': rows,
                                 'cte_ratio_model_over_oracle': round(ratio, 2),
                                 'date': time.strftime('%Y-%m-%d')}
    path.write_text(json.dumps(results, indent=2) + '\n')
    print(f'written to {path}')


if __name__ == '__main__':
    main()

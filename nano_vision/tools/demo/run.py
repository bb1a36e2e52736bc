"""``nano-vision demo``: the whole course workflow on a synthetic camera, with no camera at all.

1. dataset: frames of a synthetic scene, labelled automatically from its ground truth;
2. training: ResNet-18 from scratch (``--weights none``) on that dataset;
3. live: the installed nodes in their own processes, those of the project's launch
   file wired as it wires them (camera or simulator, the model node with the new
   model, overlay, steering), watched for ``seconds``;
4. summary: validation metrics, live rate and latency, live accuracy against
   the ground truth of the same frames (laps and cross-track error for line
   following), printed and written to ``summary.json``;
5. pictures: a montage of annotated frames, the training curves, a short video.

Pure of rclpy and torch at import: training imports nano_vision.ml and the live
step nano_vision.tools.demo.monitor when they run.
"""

from collections import deque
from dataclasses import asdict
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

from nano_vision.nodes.graph import GraphNode, GRAPHS, ros_arguments
from nano_vision.runtime.dds import profile_environment, profile_file
from nano_vision.runtime.files import write_file_atomic
from nano_vision.tools.demo.media import make_montage, MONTAGE_FRAMES, write_png, write_video
from nano_vision.tools.demo.plan import (DATASET_MARK, DemoError, frame_dimensions, make_plan,
                                         size_text)
from nano_vision.tools.demo.score import format_summary, stats_summary

# Seconds the model node may take to load its model and publish a first result.
FIRST_RESULT_TIMEOUT_SEC = 180.0


# ---------------------------------------------------------------- live scoring


# ---------------------------------------------------------------- the steps


def _say(line):
    """Print a progress line at once, also into a pipe or a log file."""
    print(line, flush=True)


def _find_executable(name):
    """Return the command that starts the node executable ``name``."""
    path = shutil.which(name)
    if path:
        return [path]
    try:
        from ament_index_python.packages import get_package_prefix
        path = os.path.join(get_package_prefix('nano_vision'), 'lib', 'nano_vision', name)
        if os.access(path, os.X_OK):
            return [path]
    except (ImportError, LookupError):
        pass
    return [sys.executable, '-m', f'nano_vision.nodes.{name}']


def _share_file(*parts):
    """Return a file of the installed package's share folder (or the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        base = get_package_share_directory('nano_vision')
    except (ImportError, LookupError):  # the repository: nano_vision/tools/demo/run.py
        base = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
    path = os.path.join(base, *parts)
    if not os.path.exists(path):
        raise DemoError(f'{path} is missing: build the workspace (make setup)')
    return path


def launch_arguments(plan, model, namespace):
    """Return the launch arguments of the live step: what ``ros2 launch`` would be given.

    The synthetic camera of the plan's scene, or the simulator on the plan's track.
    """
    if plan.project == 'line_following':
        return {'model': model, 'source': 'sim', 'track': plan.track, 'namespace': namespace}
    return {'model': model, 'source': f'synthetic:{plan.scene}', 'namespace': namespace}


def demo_parameters(plan):
    """Return ``{node: {parameter: value}}``, set by the live step on top of the graph's.

    Frames of ``plan.frame_size`` at ``plan.fps``, and the model node's statistics every
    second.
    """
    width, height = frame_dimensions(plan.frame_size)
    size = {'width': width, 'height': height}
    return {'camera': {**size, 'fps': plan.fps}, 'sim': {**size, 'rate_hz': plan.fps},
            plan.model_node: {'stats_period_sec': 1.0}}


# What the live step adds to face_xy's graph: the steering node follows the nose with the
# motors off (~/command shows what it would send).
MOTORS_OFF_STEERING = GraphNode('steering', parameters={
    'enabled': False, 'input': 'keypoints', 'keypoint': 'nose'})


def node_commands(plan, model, namespace):
    """Return ``{name: argv}`` of the nodes of the live step.

    The nodes of the project's launch file (nano_vision/nodes/graph.py), wired as it
    wires them, with its parameter file; then :func:`demo_parameters` on top (the
    camera's for a model node that reads the camera itself), and the steering node with
    the motors off for face_xy.
    """
    graph = GRAPHS[plan.project]
    arguments = graph.argument_values(launch_arguments(plan, model, namespace))
    params_file = _share_file('config', graph.config_file(arguments))
    nodes = graph.running(arguments)
    if plan.steering == 'motors_off':
        nodes.append(MOTORS_OFF_STEERING)
    overrides = demo_parameters(plan)
    return {node.name: [*_find_executable(node.executable),
                        *ros_arguments(node, arguments, params_file, {
                            # a model node that reads the camera takes the camera's too
                            **(overrides['camera'] if node.camera else {}),
                            **overrides.get(node.name, {})}),
                        '--log-level', 'warn']
            for node in nodes}


class Children:
    """The node processes of the live step; their output goes to ``<logs>/<name>.log``."""

    def __init__(self, commands, logs):
        """Start every command."""
        os.makedirs(logs, exist_ok=True)
        self.logs = logs
        self.processes = {}
        self._files = []
        try:
            for name, argv in commands.items():
                log = open(os.path.join(logs, f'{name}.log'), 'wb')
                self._files.append(log)
                self.processes[name] = subprocess.Popen(argv, stdout=log,
                                                        stderr=subprocess.STDOUT)
        except OSError:
            self.stop()
            raise

    def check(self):
        """Raise :class:`DemoError` when a node has exited."""
        for name, process in self.processes.items():
            status = process.poll()
            if status is not None:
                raise DemoError(f'the {name} node exited with status {status}:\n'
                                f'{self.tail(name)}')

    def tail(self, name, lines=15):
        """Return the last lines of a node's log."""
        with open(os.path.join(self.logs, f'{name}.log'), encoding='utf-8',
                  errors='replace') as stream:
            return ''.join(deque(stream, lines)).rstrip()

    def stop(self, timeout=15.0):
        """Interrupt every node (as Ctrl-C does), kill the ones that do not stop."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._files:
            log.close()


def _ros_environment():
    """Keep DDS on this machine and choose its Fast DDS profile, for us and the nodes."""
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_LOCALHOST_ONLY'] = '1'
    try:
        os.environ.update(profile_environment(_share_file('config', profile_file())))
    except DemoError:
        pass  # frames this small also pass over UDP


def run_live(plan, model, out, echo=None):
    """Run the live pipeline for ``plan.seconds``; return ``(record, frames)``.

    ``record`` holds the last statistics of the model node, the live score,
    the track summary and the steering commands; ``frames`` is a
    :class:`FrameKeeper` of annotated frames.
    """
    echo = echo or _say
    _ros_environment()
    try:
        from nano_vision.tools.demo.monitor import DemoMonitor
    except ImportError as exc:
        raise DemoError(f'the live step needs ROS 2 and the built workspace ({exc}): run '
                        'make setup, then . ./activate.sh') from None
    namespace = f'/nano_vision_demo_{uuid.uuid4().hex[:8]}'
    commands = node_commands(plan, model, namespace)
    echo(f'      nodes: {", ".join(commands)} in namespace {namespace} '
         f'(logs in {os.path.join(out, "logs")})')
    children = Children(commands, os.path.join(out, 'logs'))
    monitor = None
    try:
        monitor = DemoMonitor(namespace, plan.model_node, steering=bool(plan.steering),
                              track=plan.project == 'line_following',
                              montage_every_sec=plan.seconds / MONTAGE_FRAMES)
        began = time.monotonic()
        while monitor.first_result is None:
            children.check()
            if time.monotonic() - began > FIRST_RESULT_TIMEOUT_SEC:
                raise DemoError(f'no result from the {plan.model_node} within '
                                f'{FIRST_RESULT_TIMEOUT_SEC:g} s:\n'
                                f'{children.tail(plan.model_node)}')
            monitor.spin(0.2)
        echo(f'      first result after {time.monotonic() - began:.1f} s; watching for '
             f'{plan.seconds:g} s')
        monitor.start_recording()
        end = time.monotonic() + plan.seconds
        while time.monotonic() < end:
            children.check()
            monitor.spin(min(0.5, max(0.0, end - time.monotonic())))
        monitor.spin_for_stats(timeout=3.0)
    finally:
        children.stop()
        if monitor is not None:
            monitor.close()
    return monitor.record(), monitor.frames


# ---------------------------------------------------------------- report


def run_demo(project='face_xy', out='demo_out', quick=False, seconds=None, echo=None):
    """Run the demo of ``project`` into the folder ``out``; return the summary dictionary.

    :raises DemoError: a step failed (the message says which and why)
    :raises ValueError: bad options
    """
    echo = echo or _say
    plan = make_plan(project, quick, seconds)
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    timing, began = {}, time.monotonic()

    data = os.path.join(out, 'data')
    scene = f'synthetic:{plan.scene}'
    echo(f'[1/5] dataset: {plan.count} frames of {scene} at {size_text(plan.dataset_size)} px'
         f', labelled from its ground truth -> {data}')
    started = time.monotonic()
    from nano_vision.datasets.synth import write_synthetic_dataset
    _clear_dataset(data)
    samples = write_synthetic_dataset(plan.scene, data, plan.count,
                                      frame_dimensions(plan.dataset_size), seed=1)
    open(os.path.join(data, DATASET_MARK), 'w').close()
    timing['dataset'] = time.monotonic() - started
    echo(f'      {len(samples)} labelled files in {timing["dataset"]:.0f} s')

    model = os.path.join(out, f'{plan.project}.pt')
    echo(f'[2/5] training: ResNet-18 from scratch (--weights none) at {plan.image_size} px, '
         f'{plan.epochs} epochs -> {model}')
    started = time.monotonic()
    validation = _train(plan, data, model, echo)
    timing['training'] = time.monotonic() - started

    echo(f'[3/5] live: {"simulator" if plan.project == "line_following" else scene} -> '
         f'{plan.model_node} -> overlay' + (' -> steering' if plan.steering else '') +
         f' for {plan.seconds:g} s')
    started = time.monotonic()
    record, frames = run_live(plan, model, out, echo)
    timing['live'] = time.monotonic() - started

    echo('[4/5] pictures: montage, training curves, video')
    files = {'model': os.path.basename(model)}
    for kind in ('curves', 'confusion'):  # the trainer's plots
        if os.path.exists(f'{model[:-3]}.{kind}.png'):
            files[kind] = os.path.basename(f'{model[:-3]}.{kind}.png')
    montage = frames.montage_frames()
    if not montage:
        raise DemoError('no annotated frame arrived from the overlay node:\n'
                        'see ' + os.path.join(out, 'logs', 'overlay.log'))
    files['montage'] = os.path.basename(write_png(os.path.join(out, 'montage.png'),
                                                  make_montage(montage)))
    video, fps = frames.video_frames()
    files['video'] = os.path.basename(write_video(os.path.join(out, 'live'), video, fps))
    timing['total'] = time.monotonic() - began

    summary = {
        'project': plan.project, 'mode': 'quick' if quick else 'full', 'out': out,
        'plan': asdict(plan), 'validation': validation,
        'live': {'seconds': plan.seconds, 'stats': stats_summary(record['stats']),
                 'accuracy': record['score'], 'annotated_frames': frames.count,
                 'video_frames': len(video), 'video_fps': round(fps, 1)},
        'files': files, 'seconds': {k: round(v, 1) for k, v in timing.items()},
    }
    if plan.project == 'line_following':
        summary['track'] = plan.track
        summary['live']['track'] = record['track']
    if plan.steering:
        steering = record['steering'] or {'commands': 0, 'following': 0, 'angular_min': 0.0,
                                          'angular_max': 0.0}
        steering['mode'] = ('motors off, ~/command' if plan.steering == 'motors_off' else
                            'driving the simulated robot')
        summary['live']['steering'] = steering
    files['summary'] = 'summary.json'
    write_file_atomic(os.path.join(out, 'summary.json'),
                      json.dumps(summary, indent=2).encode('utf-8'))
    echo('[5/5] summary')
    for line in format_summary(summary):
        echo(line)
    return summary


def _clear_dataset(data):
    """Remove the dataset of an earlier demo (it would be trained on twice), nothing else."""
    if not os.path.exists(data):
        return
    if not os.path.exists(os.path.join(data, DATASET_MARK)):
        raise DemoError(f'{data} exists and was not written by the demo: give another --out')
    shutil.rmtree(data)


def _train(plan, data, model, echo):
    """Train the model of ``plan`` on ``data``; return its validation metrics."""
    from nano_vision.ml.recipe import TrainOptions
    from nano_vision.ml.train import train
    options = TrainOptions(data=data, out=model, weights='none', epochs=plan.epochs,
                           image_size=plan.image_size, patience=plan.epochs, seed=0)
    result = train(options, echo=lambda line: echo(f'      {line}'))
    if os.path.exists(result.last_path):
        os.remove(result.last_path)  # the resume file: the demo never resumes
    metrics = result.metrics
    best = next((row['epoch'] for row in reversed(result.history) if row.get('best')), None)
    validation = {'best_epoch': best, 'epochs_run': len(result.history),
                  'count': metrics['count'], 'image_size': plan.image_size,
                  'dataset_size': plan.dataset_size}
    if plan.task == 'xy':
        validation.update(rmse=round(metrics['rmse'], 4), rmse_px=round(metrics['rmse_px'], 2))
    else:
        validation['accuracy'] = round(metrics['accuracy'], 4)
    if plan.model_node == 'detector':
        validation['windows'] = True  # the validation images are window crops
    return validation

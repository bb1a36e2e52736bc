"""``nano-vision demo``: the whole course workflow on a synthetic camera, with no camera at all.

1. dataset: frames of a synthetic scene, labelled automatically from its ground truth;
2. training: ResNet-18 from scratch (``--weights none``) on that dataset;
3. live: the installed nodes in their own processes (camera or simulator, the
   model node with the new model, overlay, steering), watched for ``seconds``;
4. summary: validation metrics, live rate and latency, live accuracy against
   the ground truth of the same frames (laps and cross-track error for line
   following), printed and written to ``summary.json``;
5. pictures: a montage of annotated frames, the training curves, a short video.

Pure of rclpy and torch at import: training imports nano_vision.ml and the live
step nano_vision.nodes.demo_monitor when they run.
"""

from collections import deque
from dataclasses import asdict, dataclass, replace
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import cv2
import numpy as np

from nano_vision.coords import to_normalised
from nano_vision.dds import profile_environment, profile_file
from nano_vision.stamp_match import StampMatcher
from nano_vision.track import HELD_OUT_TRACK

# The montage: this many annotated frames, spread over the live run.
MONTAGE_FRAMES = 12
MONTAGE_COLUMNS = 4
# The video: the last this-many seconds of annotated frames.
VIDEO_SECONDS = 8.0
# Frames kept in memory for the video (at most VIDEO_SECONDS of them are written).
VIDEO_BUFFER = 400
# Marks a dataset folder as the demo's own, which the next run may replace.
DATASET_MARK = '.nano_vision_demo'
# Seconds the model node may take to load its model and publish a first result.
FIRST_RESULT_TIMEOUT_SEC = 180.0


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and what to look at."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo does for one project: dataset, training and live settings."""

    project: str
    scene: str
    task: str
    model_node: str
    count: int
    dataset_size: int
    image_size: int
    epochs: int
    seconds: float
    frame_size: int = 224
    fps: float = 15.0
    steering: str = ''
    track: str = HELD_OUT_TRACK


# The sets of docs/training.md's reference runs (same data and seeds), trained with
# nano-vision train's defaults (batch size and learning rate from the set's size) for a fixed
# number of epochs. face_xy and thumbs: RMSE about 3 px at 112 px and accuracy 1.000.
# line_following: then more than a lap of the held-out track in 30 s (the bench's 3000
# images are not needed to drive).
PROJECTS = {
    'face_xy': DemoPlan('face_xy', 'face', 'xy', 'regressor', count=250, dataset_size=112,
                        image_size=112, epochs=26, seconds=20.0, steering='motors_off'),
    'thumbs': DemoPlan('thumbs', 'thumbs', 'classification', 'classifier', count=400,
                       dataset_size=224, image_size=112, epochs=15, seconds=20.0),
    'line_following': DemoPlan('line_following', 'line_following', 'xy', 'regressor',
                               count=1200, dataset_size=128, image_size=96, epochs=10,
                               seconds=30.0, steering='driving'),
}

# --quick: every step and file, in seconds (the model is not expected to be good).
QUICK = {'count': 24, 'dataset_size': 64, 'image_size': 64, 'epochs': 1, 'seconds': 5.0}


def make_plan(project, quick=False, seconds=None):
    """Return the :class:`DemoPlan` of ``project``, shrunk by ``quick``, live for ``seconds``.

    :raises ValueError: an unknown project or a bad number of seconds
    """
    try:
        plan = PROJECTS[project]
    except KeyError:
        raise ValueError(f'unknown project {project!r}; available: '
                         f'{", ".join(PROJECTS)}') from None
    if quick:
        plan = replace(plan, **QUICK)
    if seconds is not None:
        if not seconds > 0:
            raise ValueError(f'seconds must be > 0, got {seconds}')
        plan = replace(plan, seconds=float(seconds))
    return plan


# ---------------------------------------------------------------- live scoring


class LiveScore:
    """Pair predictions with the ground truth of their frame and score them.

    Predictions and truths are plain dictionaries (the monitor converts the
    messages): ``{'label': str}`` for classifiers, ``{'points': {name: (u, v)},
    'width': w, 'height': h}`` for point models; paired by stamp.
    """

    def __init__(self, capacity=300):
        """Pair within the last ``capacity`` unpaired items of each kind."""
        self.matcher = StampMatcher(capacity)
        self.pairs = []
        self.predictions = 0
        self.truths = 0

    def add_truth(self, stamp, truth):
        """Add the ground truth of the frame stamped ``stamp`` (nanoseconds)."""
        self.truths += 1
        self._keep(self.matcher.add_frame(stamp, truth))

    def add_prediction(self, stamp, prediction):
        """Add the prediction for the frame stamped ``stamp`` (nanoseconds)."""
        self.predictions += 1
        self._keep(self.matcher.add_prediction(stamp, prediction))

    def _keep(self, pair):
        if pair is not None:
            self.pairs.append(pair)

    def summary(self):
        """Return the live accuracy: label accuracy, or point errors (normalised and pixels)."""
        result = {'predictions': self.predictions, 'frames_with_truth': len(self.pairs)}
        if not self.pairs:
            return result
        if 'label' in self.pairs[0][1]:
            correct = [truth['label'] == p['label'] for truth, p in self.pairs]
            result['accuracy'] = round(float(np.mean(correct)), 4)
            return result
        squared, squared_px, per_name = [], [], {}
        for truth, prediction in self.pairs:
            width, height = truth['width'], truth['height']
            for name, (u, v) in truth['points'].items():
                if name not in prediction['points']:
                    continue
                pu, pv = prediction['points'][name]
                x, y = to_normalised(u, v, width, height)
                px, py = to_normalised(pu, pv, width, height)
                d2 = (px - x) ** 2 + (py - y) ** 2
                d2_px = (pu - u) ** 2 + (pv - v) ** 2
                squared.append(d2)
                squared_px.append(d2_px)
                per_name.setdefault(name, []).append(math.sqrt(d2_px))
        if not squared:
            return result
        width, height = self.pairs[0][0]['width'], self.pairs[0][0]['height']
        result.update(
            rmse=round(math.sqrt(float(np.mean(squared))), 4),
            rmse_px=round(math.sqrt(float(np.mean(squared_px))), 2),
            frame_size=f'{width}x{height}',
            median_px={name: round(float(np.median(d)), 2) for name, d in per_name.items()})
        return result


def track_summary(states):
    """Return laps and |cross-track error| of TrackState-like records while the robot moved.

    :param states: objects with ``linear``, ``progress``, ``laps``,
        ``cross_track_error`` and ``on_track`` (messages or namespaces), in order
    """
    moving = [s for s in states if s.linear != 0.0 or s.progress != 0.0]
    if not states:
        return {'laps': 0, 'progress': 0.0, 'frames': 0}
    result = {'track_frames': len(states), 'laps': int(states[-1].laps),
              'progress': round(float(states[-1].progress), 3), 'frames': len(moving)}
    if moving:
        errors = np.abs([s.cross_track_error for s in moving])
        result.update(mean_abs_cte_m=round(float(errors.mean()), 4),
                      max_abs_cte_m=round(float(errors.max()), 4),
                      on_track_fraction=round(float(np.mean([s.on_track for s in moving])), 4))
    return result


class FrameKeeper:
    """Keep annotated frames for the montage (spread over the run) and the video (the end)."""

    def __init__(self, montage_every_sec=1.0, video_buffer=VIDEO_BUFFER):
        """Keep one montage frame per ``montage_every_sec``; the last ``video_buffer`` frames."""
        self.montage_every_sec = montage_every_sec
        self.montage = []
        self.video = deque(maxlen=video_buffer)
        self.count = 0
        self._last_montage = None

    def add(self, seconds, image):
        """Add an RGB frame received ``seconds`` after some fixed start."""
        self.count += 1
        self.video.append((seconds, image))
        if self._last_montage is None or seconds - self._last_montage >= \
                self.montage_every_sec:
            self.montage.append(image)
            self._last_montage = seconds

    def montage_frames(self, count=MONTAGE_FRAMES):
        """Return up to ``count`` montage frames, evenly spread."""
        if len(self.montage) <= count:
            return list(self.montage)
        picks = np.linspace(0, len(self.montage) - 1, count).round().astype(int)
        return [self.montage[i] for i in picks]

    def video_frames(self, seconds=VIDEO_SECONDS):
        """Return ``(frames, fps)``: the last ``seconds`` of frames and their rate."""
        if not self.video:
            return [], 0.0
        end = self.video[-1][0]
        kept = [(t, image) for t, image in self.video if t >= end - seconds]
        span = kept[-1][0] - kept[0][0]
        fps = (len(kept) - 1) / span if span > 0 and len(kept) > 1 else 1.0
        return [image for _, image in kept], min(60.0, max(1.0, fps))


def make_montage(frames, columns=MONTAGE_COLUMNS, tile=224):
    """Return one RGB image with ``frames`` tiled ``columns`` wide, each resized to ``tile``."""
    if not frames:
        raise ValueError('no frames for the montage')
    rows = math.ceil(len(frames) / columns)
    height = tile * frames[0].shape[0] // frames[0].shape[1]
    canvas = np.zeros((rows * height, columns * tile, 3), np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        canvas[r * height:(r + 1) * height, c * tile:(c + 1) * tile] = cv2.resize(
            frame, (tile, height), interpolation=cv2.INTER_AREA)
    return canvas


def write_png(path, rgb):
    """Write an RGB image as PNG; return ``path``."""
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')
    return path


def write_video(stem, frames, fps):
    """Write RGB ``frames`` as ``<stem>.mp4`` (mp4v), or ``<stem>.avi`` (MJPG); return the path.

    :raises OSError: neither codec can be written by this OpenCV
    """
    if not frames:
        raise ValueError('no frames for the video')
    height, width = frames[0].shape[:2]
    for suffix, codec in (('.mp4', 'mp4v'), ('.avi', 'MJPG')):
        path = stem + suffix
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps, (width, height))
        if not writer.isOpened():
            continue
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        if os.path.getsize(path) > 0:
            return path
    raise OSError('this OpenCV can write neither mp4v (.mp4) nor MJPG (.avi) video')


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
    except (ImportError, LookupError):
        base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(base, *parts)
    if not os.path.exists(path):
        raise DemoError(f'{path} is missing: build the workspace (make setup)')
    return path


def node_commands(plan, model, namespace):
    """Return ``{name: argv}`` of the nodes of the live step.

    The camera (or the simulator) runs at ``plan.frame_size``; the model node
    reads ``image_raw``; the overlay draws on it; the steering node follows
    the nose with the motors off (face_xy) or drives the simulated robot.
    """
    common = ['--ros-args', '-r', f'__ns:={namespace}', '--log-level', 'warn']
    size = ['-p', f'width:={plan.frame_size}', '-p', f'height:={plan.frame_size}']
    commands = {}
    if plan.project == 'line_following':
        config = ['--params-file', _share_file('config', 'line_following.yaml')]
        commands['sim'] = [*_find_executable('sim'), *common, *config, *size,
                           '-p', f'track:={plan.track}', '-p', f'rate_hz:={plan.fps}']
    else:
        config = []
        commands['camera'] = [*_find_executable('camera'), *common, *size,
                              '-p', f'source:=synthetic:{plan.scene}',
                              '-p', f'fps:={plan.fps}']
    commands[plan.model_node] = [*_find_executable(plan.model_node), *common, *config,
                                 '-p', f'model:={model}', '-p', 'stats_period_sec:=1.0',
                                 '-r', 'image:=image_raw']
    commands['overlay'] = [*_find_executable('overlay'), *common, *config,
                           '-r', 'image:=image_raw']
    if plan.steering == 'motors_off':
        commands['steering'] = [*_find_executable('steering'), *common, '-p', 'enabled:=false',
                                '-p', 'input:=keypoints', '-p', 'keypoint:=nose']
    elif plan.steering == 'driving':
        commands['steering'] = [*_find_executable('steering'), *common, *config]
    return commands


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
        from nano_vision.nodes.demo_monitor import DemoMonitor
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


def _stats_summary(stats):
    if not stats:
        return {}
    return {key: (round(value, 2) if isinstance(value, float) else value)
            for key, value in stats.items()}


def format_summary(summary):
    """Return the summary as the lines printed at the end of the demo."""
    lines = [f'nano_vision demo: {summary["project"]} ({summary["mode"]})']
    val = summary['validation']
    if 'accuracy' in val:
        lines.append(f'  validation    accuracy {val["accuracy"]:.3f} on {val["count"]} images '
                     f'(best epoch {val["best_epoch"]} of {val["epochs_run"]})')
    else:
        lines.append(f'  validation    RMSE {val["rmse"]:.4f} normalised = {val["rmse_px"]:.2f} '
                     f'px at {val["dataset_size"]} px (best epoch {val["best_epoch"]} of '
                     f'{val["epochs_run"]})')
    stats = summary['live']['stats']
    if stats:
        lines.append(f'  live          {stats["fps"]:.1f} fps on {stats["backend"]}/'
                     f'{stats["device"]}; latency p50 {stats["latency_ms_p50"]:.1f} ms, p99 '
                     f'{stats["latency_ms_p99"]:.1f} ms (model {stats["model_latency_ms_p50"]:.1f}'
                     f' ms); {stats["frames_processed"]} frames processed, '
                     f'{stats["frames_dropped"]} dropped')
    else:
        lines.append('  live          no statistics received')
    score = summary['live']['accuracy']
    if 'accuracy' in score:
        lines.append(f'  live truth    accuracy {score["accuracy"]:.3f} on '
                     f'{score["frames_with_truth"]} frames (same stamp as the ground truth)')
    elif 'rmse' in score:
        medians = ', '.join(f'{n} {v:.1f}' for n, v in score['median_px'].items())
        lines.append(f'  live truth    RMSE {score["rmse"]:.4f} normalised = '
                     f'{score["rmse_px"]:.2f} px at {score["frame_size"]} on '
                     f'{score["frames_with_truth"]} frames; median px: {medians}')
    else:
        lines.append('  live truth    no frame paired with its ground truth')
    track = summary['live'].get('track')
    if track is not None:
        if 'mean_abs_cte_m' in track:
            lines.append(f'  track         {summary["track"]}: {track["laps"]} laps '
                         f'({track["progress"]:.2f}), |cross-track error| mean '
                         f'{100 * track["mean_abs_cte_m"]:.1f} cm, max '
                         f'{100 * track["max_abs_cte_m"]:.1f} cm, on the track '
                         f'{100 * track["on_track_fraction"]:.0f} % of the time')
        else:
            lines.append(f'  track         {summary["track"]}: the robot did not move')
    steering = summary['live'].get('steering')
    if steering is not None:
        lines.append(f'  steering      {steering["commands"]} commands ({steering["mode"]}), '
                     f'{steering["following"]} while following a target; turn rate '
                     f'{steering["angular_min"]:+.2f} to {steering["angular_max"]:+.2f} rad/s')
    lines.append(f'  files         {", ".join(summary["files"].values())} in {summary["out"]}')
    lines.append(f'  time          {summary["seconds"]["total"]:.0f} s (dataset '
                 f'{summary["seconds"]["dataset"]:.0f}, training '
                 f'{summary["seconds"]["training"]:.0f}, live {summary["seconds"]["live"]:.0f})')
    return lines


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
    echo(f'[1/5] dataset: {plan.count} frames of {scene} at {plan.dataset_size} px, '
         f'labelled from its ground truth -> {data}')
    started = time.monotonic()
    from nano_vision.synthetic_dataset import write_synthetic_dataset
    _clear_dataset(data)
    samples = write_synthetic_dataset(plan.scene, data, plan.count, plan.dataset_size, seed=1)
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
        'live': {'seconds': plan.seconds, 'stats': _stats_summary(record['stats']),
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
    with open(os.path.join(out, 'summary.json'), 'w', encoding='utf-8') as stream:
        json.dump(summary, stream, indent=2)
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
    return validation

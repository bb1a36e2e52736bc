"""Inference and training speed: the course's way against nano_vision's fast paths.

One run measures, on this machine (ratios within the run are what count):

1. model only, batch 1, ResNet-18 at 224x224 (random weights: they do not change
   the arithmetic), 640x480 RGB camera frames in, so preprocessing counts:
   the course's way (PIL resize + torchvision transforms + PyTorch eager fp32),
   PyTorch eager and channels_last with nano_vision's preprocessing, ONNX
   Runtime fp32 and ONNX Runtime int8 (static, QDQ, per channel, calibrated on
   synthetic thumbs images), and OpenVINO on the same two ONNX files. Each path
   runs in its own process, in interleaved rounds; medians of all repeats.
2. the compute limit: 1.81 GMACs per image against the peak of this machine's
   cores, derived from the instruction set, the core's documented throughput, the
   clock measured under load and the physical cores, with a kernel that runs the
   instruction on every core to show it is reachable (bench/peak.py); how close each
   path gets (int8 paths against the int8 peak, the others against fp32). One large
   matrix product in ONNX Runtime (MatMul fp32, MatMulInteger int8) and PyTorch fp32
   stands beside it as the library GEMM.
3. the pipeline through ROS between processes: the ``camera`` node publishing
   640x480 rgb8 frames (synthetic thumbs scenes, read from a folder so that
   rendering does not compete with the model for the cores) -> the
   ``classifier`` node -> Classification messages received here. Throughput
   with frames offered at 1.5 times the model's own model-only rate, in rounds that
   alternate with timings of the model alone (the node processes paused), and
   latency (receive time minus the frame's stamp) with the camera at 30 fps; the
   ROS part is that latency minus the node's own model time (from its
   ``~/stats``). The course's way runs through the same nodes (the classifier
   with its predictor swapped for the course's and each frame taken from start
   to finish, as the course's loop does), so the ratio compares pipelines, not
   just models. CPU time per result of each process says where the cores went. The row
   ``ort_int8_incamera`` runs the classifier with the camera's source (its own camera,
   no camera process) and is checked against the goal of 85 % of the model alone;
   ``ort_int8_incamera_one`` is the same with one frame in the model at a time
   (``frames_in_flight:=1``), to show what the default two buy. ``ov_int8_launch``
   runs the nodes a project's launch file starts by default: the classifier with its
   own camera and the overlay, which nobody watches.
4. int8 against fp32 accuracy on a held-out synthetic thumbs set (a model
   trained here, at 112x112, from scratch; or ``--accuracy-model``).
5. training: full fine-tuning against a frozen backbone with cached features
   (images/s, seconds per epoch, time to a validation accuracy).

Run after ``. ./activate.sh``:  python bench/speed.py [--quick]
Merges the numbers into bench/results.json under ``speed``.
"""

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np

from machine import machine as describe_machine  # noqa: I100
from peak import describe as describe_peak, measure as measure_peak

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'
ROOT = pathlib.Path(__file__).resolve().parents[1]
# 640x480 rgb8 frames need the enlarged shared-memory segment (config/fastdds.xml)
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(ROOT / 'config' / 'fastdds.xml'))
BIN = ROOT / 'install' / 'nano_vision' / 'lib' / 'nano_vision'
GMACS = 1.814  # ResNet-18, 224x224, multiply-accumulates per image
NAMES = ['thumbs_down', 'thumbs_up']
PATHS = {
    'course': 'course: PIL + torchvision transforms + PyTorch eager fp32',
    'torch': 'PyTorch eager fp32, nano_vision preprocessing',
    'torch_cl': 'PyTorch channels_last fp32, nano_vision preprocessing',
    'ort_fp32': 'ONNX Runtime fp32',
    'ort_int8': 'ONNX Runtime int8 (static QDQ, per channel)',
    'ov_fp32': 'OpenVINO fp32 (the same ONNX file)',
    'ov_int8': 'OpenVINO int8 (the same ONNX file)',
}


def engine(name):
    """Return what runs a path's or pipeline's ONNX model: onnxruntime or openvino."""
    return 'openvino' if name.startswith('ov_') else 'onnxruntime'


def here(names):
    """Return ``names`` less the OpenVINO ones when openvino is not installed (optional)."""
    import importlib.util
    found = importlib.util.find_spec('openvino') is not None
    return [name for name in names if found or engine(name) != 'openvino']


def machine():
    """Return what describes this machine and its software."""
    info = describe_machine()
    import cv2
    import onnxruntime
    import torch
    info.update(torch=torch.__version__, onnxruntime=onnxruntime.__version__,
                opencv=cv2.__version__, load_average=[round(v, 2) for v in os.getloadavg()],
                fastdds_profile=os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE', ''))
    return info


def timed(function, iterations, warmup):
    """Return the seconds of each of ``iterations`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


# -- 1. model only -------------------------------------------------------------------------

def course_predictor(path=None, torch_predictor=None):
    """Return a predictor working the course's way: checkpoint ``path`` or ``torch_predictor``.

    The course turns each frame into a PIL image, resizes and normalises it with
    torchvision transforms and runs the PyTorch model eagerly in fp32; this does the
    same behind nano_vision's predictor interface, so the classifier node can run it.
    """
    import torch
    from PIL import Image
    from torchvision import transforms
    from nano_vision.ml.predictor import load_predictor, Predictor

    class CoursePredictor(Predictor):
        backend = 'torch (course: PIL + torchvision transforms)'

        def __init__(self, torch_predictor):
            self.model = torch_predictor.model
            self.device = torch_predictor.device
            self.task, self.names = torch_predictor.task, torch_predictor.names
            self.preprocessing = pre = torch_predictor.preprocessing
            self.transform = transforms.Compose([
                transforms.Resize((pre.input_size, pre.input_size)), transforms.ToTensor(),
                transforms.Normalize(pre.mean, pre.std)])

        def prepare(self, images, encoding='rgb8', out=None):
            batch = self.new_input(len(images)) if out is None else out
            for i, image in enumerate(images):
                batch[i] = self.transform(Image.fromarray(image)).numpy()
            return batch

        def run(self, batch):
            with torch.no_grad():
                return self.model(torch.from_numpy(batch)).numpy()

    return CoursePredictor(torch_predictor or load_predictor(path, 'cpu'))


def load_path(name, models):
    """Return ``(predict(frame), run_only())`` of one path (in the child process)."""
    import torch
    from nano_vision.ml.predictor import load_predictor
    if name == 'course':
        predictor = course_predictor(models['pt'])
    else:
        path = models['onnx'] if name.endswith('_fp32') else models['int8'] \
            if name.endswith('_int8') else models['pt']
        predictor = load_predictor(path, 'cpu', backend=engine(name) if
                                   path.endswith('.onnx') else 'auto')
    if name == 'torch_cl':
        predictor.model = predictor.model.to(memory_format=torch.channels_last)
        run = predictor.run
        predictor.run = lambda batch: run(np.ascontiguousarray(batch))
    size = predictor.preprocessing.input_size
    batch = np.zeros((1, 3, size, size), np.float32)
    if name == 'torch_cl':
        model = predictor.model

        @torch.inference_mode()
        def run_only():
            model(torch.from_numpy(batch).contiguous(memory_format=torch.channels_last))
        return (lambda frame: predictor.predict(frame)), run_only
    return (lambda frame: predictor.predict(frame)), (lambda: predictor.run(batch))


def child_model_only(args):
    """Time one path in this process; print JSON."""
    models = json.loads(args.models)
    frames = [np.load(path) for path in models['frames']]
    predict, run_only = load_path(args.child, models)
    count = [0]

    def next_frame():
        count[0] += 1
        return predict(frames[count[0] % len(frames)])
    full = timed(next_frame, args.iterations, 5)
    model = timed(run_only, args.iterations, 2)
    print(json.dumps({'predict': full, 'model': model}))


def model_only(models, rounds, iterations):
    """Time every path in its own process, ``rounds`` times interleaved."""
    samples = {name: {'predict': [], 'model': []} for name in here(PATHS)}
    for round_ in range(rounds):
        for name in samples:
            out = subprocess.run(
                [sys.executable, __file__, '--child', name, '--models', json.dumps(models),
                 '--iterations', str(iterations)], check=True, capture_output=True, text=True)
            values = json.loads(out.stdout.strip().splitlines()[-1])
            for key in values:
                samples[name][key] += values[key]
            print(f'  round {round_ + 1}/{rounds} {name:<9} '
                  f'{statistics.median(values["predict"]) * 1e3:7.2f} ms', flush=True)
    rows = {}
    for name, values in samples.items():
        ms = statistics.median(values['predict']) * 1e3
        model_ms = statistics.median(values['model']) * 1e3
        rows[name] = {'path': PATHS[name], 'latency_ms_p50': round(ms, 2),
                      'latency_ms_p90': round(float(np.percentile(values['predict'], 90)) *
                                              1e3, 2),
                      'fps': round(1e3 / ms, 1), 'model_ms_p50': round(model_ms, 2),
                      'preprocess_and_decode_ms': round(ms - model_ms, 2),
                      'gmacs_per_s': round(GMACS / model_ms * 1e3, 1),
                      'repeats': len(values['predict'])}
    base = rows['course']['fps']
    for row in rows.values():
        row['speedup_vs_course'] = round(row['fps'] / base, 2)
    return rows


def ort_settings(models, frames, rounds, iterations):
    """Time ONNX Runtime int8 and fp32 with 1 or all threads, spinning or sleeping."""
    import onnxruntime
    from nano_vision.ml.predictor import load_predictor, physical_cores
    rows = {}
    for backend in ('onnx', 'int8'):
        for threads in sorted({1, physical_cores()}):
            for spin in ('1', '0'):
                predictor = load_predictor(models[backend], 'cpu', threads, 'onnxruntime')
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry('session.intra_op.allow_spinning', spin)
                predictor.session = onnxruntime.InferenceSession(
                    models[backend], options, providers=['CPUExecutionProvider'])
                rows[(backend, threads, spin)] = predictor
    times = {key: [] for key in rows}
    for _ in range(rounds):
        for key, predictor in rows.items():
            times[key] += timed(lambda: predictor.predict(frames[0]), iterations, 3)
    out = []
    for (backend, threads, spin), values in times.items():
        out.append({'backend': 'ort_fp32' if backend == 'onnx' else 'ort_int8',
                    'threads': threads, 'spinning': spin == '1',
                    'latency_ms_p50': round(statistics.median(values) * 1e3, 2)})
        print(f'  {out[-1]}', flush=True)
    return out


# -- 2. compute limit ----------------------------------------------------------------------

def _matmul_session(kind, n, threads):
    from onnx import helper, TensorProto
    import onnxruntime
    types = {'fp32': (TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT, 'MatMul'),
             'int8': (TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32, 'MatMulInteger')}
    a, b, c, op = types[kind]
    graph = helper.make_graph(
        [helper.make_node(op, ['a', 'b'], ['c'])], f'{kind}_peak',
        [helper.make_tensor_value_info('a', a, [n, n]),
         helper.make_tensor_value_info('b', b, [n, n])],
        [helper.make_tensor_value_info('c', c, [n, n])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], ir_version=8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                        providers=['CPUExecutionProvider'])


def precision(name):
    """Return the precision a model-only path computes in: ``int8`` or ``fp32``."""
    return 'int8' if 'int8' in name else 'fp32'


def peak(quick):
    """Return the derived peak with its kernels (bench/peak.py) and the library GEMM."""
    out = measure_peak(seconds=0.2 if quick else 0.5, rounds=1 if quick else 3)
    out['library_gemm'] = library_gemm(quick)
    return out


def library_gemm(quick):
    """Return the fp32 and int8 GMAC/s of one large matrix product in the libraries."""
    import torch
    from nano_vision.ml.predictor import physical_cores
    n, repeats = (1024, 3) if quick else (2048, 10)
    threads = physical_cores()
    rng = np.random.default_rng(0)
    inputs = {'fp32': {'a': rng.standard_normal((n, n), np.float32),
                       'b': rng.standard_normal((n, n), np.float32)},
              'int8': {'a': rng.integers(0, 255, (n, n), dtype=np.uint8),
                       'b': rng.integers(-127, 127, (n, n), dtype=np.int8)}}
    macs = n ** 3 / 1e9
    out = {}
    for kind in ('fp32', 'int8'):
        session = _matmul_session(kind, n, threads)
        seconds = timed(lambda: session.run(None, inputs[kind]), repeats, 2)
        out[f'{kind}_gmacs_per_s'] = round(macs / statistics.median(seconds), 1)
    a, b = torch.from_numpy(inputs['fp32']['a']), torch.from_numpy(inputs['fp32']['b'])
    out['torch_mm_fp32_gmacs_per_s'] = round(
        macs / statistics.median(timed(lambda: torch.mm(a, b), repeats, 2)), 1)
    out['how'] = (f'median of {n}x{n}x{n} matrix products on {threads} threads with ONNX '
                  'Runtime (MatMul fp32, MatMulInteger uint8 x int8); torch.mm for reference')
    return out


# -- 3. pipeline through ROS ---------------------------------------------------------------

class ResultReader:
    """Receives the classifier's results and its ``~/stats`` in this process."""

    def __init__(self, namespace):
        """Subscribe in ``namespace``."""
        import rclpy
        from nano_vision_msgs.msg import Classification, InferenceStats
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('bench_speed', namespace=namespace, context=self.context)
        self.results, self.stats = [], None
        self.node.create_subscription(Classification, 'classification', self._on_result, 50)
        self.node.create_subscription(InferenceStats, 'classifier/stats', self._on_stats, 10)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_result(self, msg):
        from nano_vision.nodes.messages import stamp_ns
        now = time.time_ns()
        self.results.append((time.monotonic(), (now - stamp_ns(msg.header)) / 1e6))

    def _on_stats(self, msg):
        self.stats = msg

    def spin_for(self, seconds, until=None):
        """Spin ``seconds`` (or until ``until()`` holds)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            self.executor.spin_once(timeout_sec=0.05)

    def close(self):
        """Shut the node and its context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def cpu_seconds(pid):
    """Return the CPU seconds (user + system) process ``pid`` has used, or None."""
    try:
        fields = pathlib.Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def sequential_node(ros_args, course):
    """Run the classifier node taking each frame from start to finish (a bench child).

    Preprocessing, then the model, never preparing the next frame while the model
    runs, as the course's loop does; with ``course`` also the course's predictor.
    """
    from nano_vision.nodes.classifier import ClassifierNode
    from nano_vision.nodes.runner import run_node

    class SequentialClassifierNode(ClassifierNode):
        """The classifier node without the prepare thread."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if course:  # the node's own PyTorch model, run the course's way: loaded once
                self.predictor = course_predictor(torch_predictor=self.predictor)

        def _prepare_loop(self):
            while not self.stopping.is_set():
                msg = self.slot.take(timeout=0.2)
                if msg is not None:
                    self.process(msg)

        def _inference_loop(self):
            pass

    return run_node(SequentialClassifierNode, 'classifier', ['classifier', *ros_args],
                    events_executor=True)


class Pipeline:
    """camera -> classifier -> this process, in three processes, until closed.

    Backends with ``_incamera`` run the classifier with the camera's ``source``
    (its in-process camera) and no camera process: classifier -> this process;
    ``_launch`` ones also the overlay, as the launch files do, which nobody watches.

    :meth:`pause` stops the two node processes (SIGSTOP) so that the model can be
    timed alone on idle cores between measurements, and :meth:`resume` goes on.
    """

    def __init__(self, backend, model, frames_dir, camera_fps, threads):
        """Start the nodes; wait until results arrive."""
        namespace = f'/bench_{uuid.uuid4().hex[:8]}'
        common = ['--ros-args', '-r', f'__ns:={namespace}', '--log-level', 'warn']
        classifier = [str(BIN / 'classifier')]
        if backend in SEQUENTIAL_NODES:
            classifier = [sys.executable, __file__, SEQUENTIAL_NODES[backend]]
        self.camera_fps, self.threads = camera_fps, threads
        camera = ['-p', f'source:={frames_dir}', '-p', 'width:=640', '-p', 'height:=480',
                  '-p', 'encoding:=rgb8', '-p', f'fps:={camera_fps}']
        in_camera = '_incamera' in backend or backend.endswith('_launch')
        self.names = ('classifier',) if in_camera else ('classifier', 'camera')
        self.children = [
            subprocess.Popen([*classifier, *common, '-p', f'model:={model}',
                              '-p', f'backend:={engine(backend)}',
                              '-p', f'threads:={threads}', '-p', 'stats_period_sec:=1.0',
                              *(['-p', 'frames_in_flight:=1'] if backend.endswith('_one')
                                or backend in SEQUENTIAL_NODES else []),
                              '-r', 'image:=image_raw', *(camera if in_camera else [])])]
        if not in_camera:
            self.children.append(subprocess.Popen([str(BIN / 'camera'), *common, *camera]))
        if backend.endswith('_launch'):  # the overlay the launch files start, nobody watching
            self.names += ('overlay',)
            self.children.append(subprocess.Popen([str(BIN / 'overlay'), *common, '-p',
                                                   'mode:=classification', '-r',
                                                   'image:=image_raw']))
        self.reader = ResultReader(namespace)
        try:
            self.reader.spin_for(60, until=lambda: len(self.reader.results) > 5)
            if not self.reader.results:
                sys.exit('no classification arrived in 60 s: is the workspace built?')
        except BaseException:
            self.close()
            raise

    def _signal(self, signum):
        for child in self.children:
            os.kill(child.pid, signum)

    def pause(self):
        """Stop the node processes where they are (they use no CPU until resumed)."""
        self._signal(signal.SIGSTOP)

    def resume(self):
        """Let the node processes go on."""
        self._signal(signal.SIGCONT)

    def measure(self, seconds, warmup):
        """Return fps, latencies and CPU per result over ``seconds`` after ``warmup`` s."""
        reader = self.reader
        reader.spin_for(warmup)
        begin = time.monotonic()
        cpu_begin = [cpu_seconds(child.pid) for child in self.children]
        reader.spin_for(seconds)
        cpu_end = [cpu_seconds(child.pid) for child in self.children]
        end = time.monotonic()
        first = reader.stats
        reader.spin_for(3, until=lambda: reader.stats is not first)
        window = [latency for arrived, latency in reader.results if begin <= arrived < end]
        if len(window) < 2:
            sys.exit(f'only {len(window)} results in {seconds} s')
        row = {'camera_fps': self.camera_fps, 'threads': self.threads, 'results': len(window),
               'fps': round(len(window) / (end - begin), 1),
               'latency_ms_p50': round(statistics.median(window), 2),
               'latency_ms_p99': round(float(np.percentile(window, 99)), 2)}
        # CPU time per result: where the cores went (the model node includes its model)
        for name, before, after in zip(self.names, cpu_begin, cpu_end):
            if before is not None and after is not None:
                row[f'{name}_cpu_ms_per_result'] = round((after - before) * 1e3 / len(window),
                                                         2)
        stats = reader.stats
        if stats is not None:
            row.update(node_model_ms_p50=round(stats.model_latency_ms_p50, 2),
                       node_frames_dropped=int(stats.frames_dropped))
            row['ros_ms_p50'] = round(row['latency_ms_p50'] - row['node_model_ms_p50'], 2)
        return row

    def close(self):
        """Stop the nodes and the reader."""
        self.resume()
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # seen once: Fast DDS deadlocked tearing a participant down while a
                # discovery callback ran; the measurement is complete by now
                print(f'  {os.path.basename(child.args[0])} did not stop in 10 s; killed',
                      flush=True)
                child.kill()
                child.wait()
        self.reader.close()


def model_alone_child(argv):
    """Time the model with the node's settings on request (the child of :class:`ModelAlone`).

    ``argv``: backend, model path, threads, frame files. Each line read from stdin is a
    number of frames; the median ms of one prediction over them and the CPU ms (user +
    system, all threads) per prediction are printed back.
    """
    backend, model, threads, *frame_files = argv
    from nano_vision.ml.predictor import load_predictor
    predictor = course_predictor(model) if backend == 'course' else \
        load_predictor(model, 'cpu', int(threads), engine(backend))
    frames = [np.load(path) for path in frame_files]
    count = [0]

    def next_frame():
        count[0] += 1
        predictor.predict(frames[count[0] % len(frames)])
    for line in sys.stdin:
        timed(next_frame, 5, 0)
        cpu = time.process_time()
        times = timed(next_frame, int(line), 0)
        cpu_ms = (time.process_time() - cpu) * 1e3 / len(times)
        print(json.dumps([statistics.median(times) * 1e3, cpu_ms]), flush=True)


class ModelAlone:
    """The model with the node's settings in a child process, timed on request."""

    def __init__(self, backend, model, frames, threads):
        """Load the model in a child process."""
        self.process = subprocess.Popen(
            [sys.executable, __file__, '--model-alone', backend, model, str(threads), *frames],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.cpu_ms = None  # CPU ms per prediction of the last timing

    def time(self, iterations):
        """Return the median ms of one prediction over ``iterations`` frames."""
        self.process.stdin.write(f'{iterations}\n')
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit('the model-alone child process ended')
        ms, self.cpu_ms = json.loads(line)
        return ms

    def close(self):
        """End the child process."""
        self.process.stdin.close()
        self.process.wait(timeout=30)


# backend -> model; ov_*: OpenVINO runs the ONNX file; *_incamera: the classifier reading
# the frames itself (its source parameter), no camera process; *_launch: the same with the
# overlay beside it, nobody watching (what the launch files start by default on an x86
# CPU, where backend auto runs OpenVINO); *_one: one frame in the model
# at a time (frames_in_flight:=1), to show what two buy; *_sequential: the node without its
# prepare thread and one frame at a time (each frame from start to finish), to show what
# preparing frames while the model runs buys
PIPELINE_MODELS = {'ort_int8': 'int8', 'ort_int8_incamera': 'int8',
                   'ort_int8_incamera_one': 'int8', 'ov_int8': 'int8',
                   'ov_int8_incamera': 'int8', 'ov_int8_launch': 'int8',
                   'ort_int8_sequential': 'int8', 'ort_fp32': 'onnx', 'course': 'pt'}
# the goal: through ROS on the default threads, at least 85 % of the model alone
ACCEPTANCE = (('ort_int8_incamera', 'ov_int8_incamera', 'ov_int8_launch'), 0, 0.85)
SEQUENTIAL_NODES = {'course': '--course-node', 'ort_int8_sequential': '--sequential-node'}
# frames are offered this many times as fast as the model alone takes them: the model, not the
# camera, sets the pace (at exactly its rate, a frame that comes just after the node got free
# leaves it idle), and what a design spends on the frames it cannot take counts (a camera
# process converts and publishes each one; a node's own camera only grabs it)
OFFER = 1.5


def throughput(backend, model, frames, frames_dir, threads, rounds, seconds, iterations):
    """Return the pipeline's throughput against the model alone, in interleaved rounds.

    The machine's speed drifts (shared hosts), so each round times the model alone
    (the node processes paused), then the pipeline; a round's ratio uses the mean of
    the model-alone timings just before and just after it.
    """
    alone = ModelAlone(backend, model, frames, threads)
    try:
        # the faster of two timings: a child's first frames (or a busy moment) are slower
        warm_ms = min(alone.time(iterations), alone.time(iterations))
        rate = round(min(1000.0, OFFER * 1e3 / warm_ms), 1)
        nodes = Pipeline(backend, model, frames_dir, rate, threads)
        try:
            nodes.pause()
            alone_ms = [alone.time(iterations)]
            alone_cpu = [alone.cpu_ms]
            rows = []
            for i in range(rounds):
                nodes.resume()
                row = nodes.measure(seconds, warmup=3.0 if i == 0 else 1.5)
                nodes.pause()
                alone_ms.append(alone.time(iterations))
                alone_cpu.append(alone.cpu_ms)
                row['model_only_ms'] = round((alone_ms[-2] + alone_ms[-1]) / 2, 2)
                row['fps_over_model_only'] = round(row['fps'] * row['model_only_ms'] / 1e3, 3)
                # where the cores go, less sensitive to other load than the rates: CPU of
                # one prediction alone against CPU per result of the pipeline's processes
                row['model_only_cpu_ms'] = round((alone_cpu[-2] + alone_cpu[-1]) / 2, 2)
                cpu = [row.get(f'{name}_cpu_ms_per_result') for name in nodes.names]
                if None not in cpu:
                    row['pipeline_cpu_ms_per_result'] = round(sum(cpu), 2)
                    row['cpu_of_model_only_over_pipeline'] = round(
                        row['model_only_cpu_ms'] / sum(cpu), 3)
                rows.append(row)
        finally:
            nodes.close()
    finally:
        alone.close()
    return {'camera_fps': rate, 'rounds': rows,
            'model_only_ms_timings': [round(ms, 2) for ms in alone_ms],
            'fps': statistics.median(r['fps'] for r in rows),
            'fps_over_model_only': statistics.median(r['fps_over_model_only'] for r in rows),
            **{key: statistics.median(r[key] for r in rows) for key in
               ('classifier_cpu_ms_per_result', 'camera_cpu_ms_per_result',
                'overlay_cpu_ms_per_result', 'node_model_ms_p50', 'model_only_cpu_ms',
                'pipeline_cpu_ms_per_result',
                'cpu_of_model_only_over_pipeline') if all(key in r for r in rows)}}


def latency(backend, model, frames_dir, threads, seconds):
    """Return the latencies with the camera at 30 fps."""
    nodes = Pipeline(backend, model, frames_dir, 30.0, threads)
    try:
        return nodes.measure(seconds, warmup=3.0)
    finally:
        nodes.close()


def pipelines(models, frames, frames_dir, quick, threads_choices, backends=None, repeats=1):
    """Measure each backend's pipeline: int8 with each thread count, the others at 0.

    ``repeats`` > 1 measures the whole list that many times in turn (rows carry ``repeat``),
    so that designs compared within one run alternate in time.
    """
    out = []
    rounds, seconds, iterations = (1, 2.0, 20) if quick else (3, 5.0, 150)
    for repeat, backend, threads in (
            (repeat, backend, threads) for repeat in range(repeats)
            for backend in here(PIPELINE_MODELS) if not backends or backend in backends
            for threads in (threads_choices if backend in ('ort_int8', 'ort_int8_incamera')
                            else [0])):
        key = PIPELINE_MODELS[backend]
        fast = throughput(backend, models[key], frames, frames_dir, threads, rounds,
                          seconds, iterations)
        slow = latency(backend, models[key], frames_dir, threads, 3.0 if quick else 12.0)
        alone_ms = statistics.median(fast['model_only_ms_timings'])
        row = {'backend': backend, 'threads': threads,
               **({'repeat': repeat + 1} if repeats > 1 else {}),
               'load_average': [round(v, 2) for v in os.getloadavg()],
               'model_only_ms': round(alone_ms, 2),
               'model_only_fps': round(1e3 / alone_ms, 1),
               'throughput': fast, 'at_30fps': slow,
               'fps_over_model_only': fast['fps_over_model_only']}
        out.append(row)
        ratios = ', '.join(f"{r['fps_over_model_only']:.0%}" for r in fast['rounds'])
        print(f'  {backend} threads={threads}: model only {row["model_only_fps"]:.1f} fps, '
              f'through ROS {fast["fps"]:.1f} fps ({row["fps_over_model_only"]:.0%}; rounds '
              f'{ratios}); at 30 fps latency p50 {slow["latency_ms_p50"]:.1f} ms, p99 '
              f'{slow["latency_ms_p99"]:.1f} ms, ROS part p50 '
              f'{slow.get("ros_ms_p50", float("nan")):.1f} ms; CPU per result '
              f'{fast.get("pipeline_cpu_ms_per_result", float("nan")):.2f} ms against '
              f'{fast.get("model_only_cpu_ms", float("nan")):.2f} ms alone; load average '
              f'{row["load_average"][0]:.2f}', flush=True)
    courses = {row.get('repeat'): row for row in out if row['backend'] == 'course'}
    for row in out:
        course = courses.get(row.get('repeat'))
        if course is not None:
            row['fps_over_course_pipeline'] = round(
                row['throughput']['fps'] / course['throughput']['fps'], 2)
    from nano_vision.ml.predictor import physical_cores
    goal_backends, threads, goal = ACCEPTANCE
    for row in out:  # the default threads: 0, or as many as it means
        backend = row['backend']
        if backend in goal_backends and row['threads'] in (threads, physical_cores()):
            row['acceptance'] = {'goal_fps_over_model_only': goal,
                                 'met': row['fps_over_model_only'] >= goal}
            print(f'  acceptance: {backend} threads={row["threads"]} through ROS '
                  f"{row['fps_over_model_only']:.0%} of the model alone (goal {goal:.0%}): "
                  f"{'met' if row['acceptance']['met'] else 'not met'}", flush=True)
    return out


# -- 4. accuracy and 5. training -----------------------------------------------------------

def train_run(data, out, epochs, freeze, size):
    """Train from scratch; return the history and the wall time."""
    from nano_vision.ml.recipe import TrainOptions
    from nano_vision.ml.train import train
    options = TrainOptions(data=data, out=out, image_size=size, epochs=epochs, weights='none',
                           freeze_backbone=freeze, patience=epochs, plots=False,
                           progress=False, device='cpu', lr=1e-3 if not freeze else 1e-2)
    began = time.monotonic()
    result = train(options, echo=lambda line: None)
    return result, time.monotonic() - began


def training_row(result, wall, target):
    """Summarise a training run: per-epoch seconds, images/s, time to ``target`` accuracy."""
    from nano_vision.ml.checkpoint import load_checkpoint
    options = load_checkpoint(result.model_path)['train_options']
    history = result.history
    elapsed, reached = 0.0, None
    for row in history:
        elapsed += row['seconds']
        if reached is None and row['val_acc'] >= target:
            reached = round(elapsed, 2)
    seconds = [row['seconds'] for row in history]
    later = statistics.median(seconds[1:] or seconds)
    return {'epochs': len(history), 'wall_s': round(wall, 1),
            'train_images': options['train_samples'], 'val_images': options['val_samples'],
            'first_epoch_s': round(seconds[0], 3), 'later_epoch_s_median': round(later, 4),
            'train_images_per_s_later_epochs': round(options['train_samples'] / later, 1),
            'best_val_acc': round(max(r['val_acc'] for r in history), 3),
            'target_val_acc': target, 'seconds_to_target': reached}


def load_checkpoint_metrics(path):
    """Return the validation accuracy recorded in a checkpoint."""
    from nano_vision.ml.checkpoint import load_checkpoint
    return round(load_checkpoint(path)['metrics'].get('accuracy', float('nan')), 4)


def accuracy(models, test_dir):
    """Return the accuracy of each model file on the images of ``test_dir``."""
    import cv2
    from nano_vision.datasets.layout import load_dataset
    from nano_vision.ml.predictor import load_predictor
    dataset = load_dataset(test_dir, task='classification', names=NAMES)
    images = [(cv2.imread(s.path, cv2.IMREAD_COLOR), s.label) for s in dataset.samples]
    out = {}
    for name, path in models.items():
        predictor = load_predictor(path, 'cpu', backend=engine(name) if
                                   path.endswith('.onnx') else 'auto')
        right = sum(predictor.predict(image, 'bgr8').label == label for image, label in images)
        out[name] = round(right / len(images), 4)
    out['images'] = len(images)
    return out


# -- main ----------------------------------------------------------------------------------

def prepare(tmp, quick):
    """Write the datasets, camera frames and the timing model; return their paths."""
    import cv2
    import torch
    from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint
    from nano_vision.ml.export import export_onnx, quantize_int8
    from nano_vision.ml.model import build_model
    from nano_vision.image.preprocess import Preprocessing
    from nano_vision.datasets.synth import write_synthetic_dataset
    paths = {'train': os.path.join(tmp, 'thumbs'), 'test': os.path.join(tmp, 'thumbs_test'),
             'frames_dir': os.path.join(tmp, 'frames')}
    write_synthetic_dataset('thumbs', paths['train'], 80 if quick else 240, 112, seed=1)
    write_synthetic_dataset('thumbs', paths['test'], 40 if quick else 200, 112, seed=2)
    samples = write_synthetic_dataset('thumbs', os.path.join(tmp, 'frames_jpg'), 8,
                                      (640, 480), seed=3)
    os.makedirs(paths['frames_dir'])
    frames = []
    for i, sample in enumerate(samples):
        bgr = cv2.imread(sample.path, cv2.IMREAD_COLOR)
        # uncompressed: the camera node only copies them, leaving the cores to the model
        cv2.imwrite(os.path.join(paths['frames_dir'], f'{i:03d}.bmp'), bgr)
        frames.append(os.path.join(tmp, f'frame{i}.npy'))
        np.save(frames[-1], cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    paths['frames'] = frames
    torch.manual_seed(0)
    pt = os.path.join(tmp, 'resnet18_224.pt')
    save_checkpoint(make_checkpoint(
        build_model('resnet18', len(NAMES)), task='classification', arch='resnet18',
        names=NAMES, preprocessing=Preprocessing(224),
        train_options={'data': paths['train'], 'val_fraction': 0.2, 'seed': 0}), pt)
    paths['pt'] = pt
    paths['onnx'], _ = export_onnx(pt)
    paths['int8'], _ = quantize_int8(pt, count=32 if quick else 128)
    return paths


def main():
    """Run every part and print and store the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='a fast smoke run: few repeats, tiny datasets, short pipelines')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds of paths')
    parser.add_argument('--iterations', type=int, default=60, help='frames per path per round')
    parser.add_argument('--threads', type=int, nargs='+', default=[0, 1],
                        help='classifier node threads to measure the pipeline with (0: '
                        'one per physical core)')
    parser.add_argument('--pipelines', nargs='+', choices=list(PIPELINE_MODELS),
                        help='the pipeline backends to measure (default: all)')
    parser.add_argument('--pipeline-repeats', type=int, default=1,
                        help='measure the pipelines this many times in turn (designs compared '
                        'within one run alternate in time)')
    parser.add_argument('--target-accuracy', type=float, default=0.9)
    parser.add_argument('--epochs', type=int, default=6, help='epochs of full fine-tuning')
    parser.add_argument('--accuracy-model', help='a thumbs .pt checkpoint to compare int8 and '
                        'fp32 with (calibrated on its recorded dataset) instead of the model '
                        'trained by the training part')
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['model', 'settings', 'peak', 'pipeline', 'accuracy',
                                 'training'])
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--models', help=argparse.SUPPRESS)
    if sys.argv[1:2] in (['--course-node'], ['--sequential-node']):
        sys.exit(sequential_node(sys.argv[2:], course=sys.argv[1] == '--course-node'))
    if sys.argv[1:2] == ['--model-alone']:
        model_alone_child(sys.argv[2:])
        return
    args = parser.parse_args()
    if args.child:
        child_model_only(args)
        return
    if not (BIN / 'classifier').exists():
        sys.exit(f'{BIN} has no classifier: run make setup first')
    if args.quick:
        args.rounds, args.iterations, args.epochs = 1, 8, 2
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores ({', '.join(info['flags'])}), "
          f"Python {info['python']}, torch {info['torch']}, onnxruntime "
          f"{info['onnxruntime']}, load average {info['load_average']}", flush=True)
    results = {'machine': info, 'date': time.strftime('%Y-%m-%d %H:%M'), 'quick': args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        print('preparing models and data ...', flush=True)
        paths = prepare(tmp, args.quick)
        models = {k: paths[k] for k in ('pt', 'onnx', 'int8', 'frames')}
        if 'model' not in args.skip:
            print('1. model only, batch 1, 640x480 frames in:', flush=True)
            results['model_only'] = model_only(models, args.rounds, args.iterations)
        if 'settings' not in args.skip:
            print('1b. ONNX Runtime threads and spinning:', flush=True)
            results['ort_settings'] = ort_settings(
                models, [np.load(f) for f in paths['frames']], args.rounds,
                max(5, args.iterations // 3))
        if 'peak' not in args.skip:
            print('2. peak of the cores ...', flush=True)
            results['peak'] = peak(args.quick)
        if 'pipeline' not in args.skip:
            print('3. pipeline through ROS (camera -> classifier -> here):', flush=True)
            results['pipeline'] = pipelines(models, paths['frames'], paths['frames_dir'],
                                            args.quick, args.threads, args.pipelines,
                                            args.pipeline_repeats)
        if 'training' not in args.skip or ('accuracy' not in args.skip and
                                           not args.accuracy_model):
            print('4./5. training from scratch at 112x112 (full, then frozen) ...', flush=True)
            full, wall = train_run(paths['train'], os.path.join(tmp, 'thumbs112.pt'),
                                   args.epochs, False, 112)
            results['training'] = {'image_size': 112,
                                   'full': training_row(full, wall, args.target_accuracy)}
            frozen, wall = train_run(paths['train'], os.path.join(tmp, 'frozen112.pt'),
                                     max(args.epochs, 10 if args.quick else 30), True, 112)
            results['training']['frozen_cached'] = training_row(frozen, wall,
                                                                args.target_accuracy)
            _training_ratios(results['training'])
        if 'accuracy' not in args.skip:
            from nano_vision.ml.export import export_onnx, quantize_int8
            print('4. int8 against fp32 on the held-out set ...', flush=True)
            checkpoint = args.accuracy_model or os.path.join(tmp, 'thumbs112.pt')
            onnx_path, _ = export_onnx(checkpoint)
            int8_path, check = quantize_int8(checkpoint, count=32 if args.quick else 128)
            results['accuracy'] = accuracy(
                {name: path for name, path in (
                    ('torch_fp32', checkpoint), ('ort_fp32', onnx_path),
                    ('ort_int8', int8_path), ('ov_int8', int8_path)) if here([name])},
                paths['test'])
            results['accuracy']['int8_top1_agreement_on_calibration'] = \
                check['top1_agreement']
            results['accuracy']['model'] = (
                f'{args.accuracy_model} (given)' if args.accuracy_model else
                'ResNet-18 trained here from scratch, 112x112')
            results['accuracy']['model_val_acc'] = load_checkpoint_metrics(checkpoint)
    report(results)
    if not args.quick:
        path = ROOT / 'bench' / 'results.json'
        stored = json.loads(path.read_text()) if path.exists() else {}
        # parts skipped in this run keep their numbers from the run that measured them
        earlier = stored.get('speed', {})
        kept = [key for key in ('model_only', 'ort_settings', 'peak', 'pipeline', 'accuracy',
                                'training') if key not in results and key in earlier]
        for key in kept:
            results[key] = earlier[key]
        if kept:
            results['from_an_earlier_run'] = {
                key: earlier.get('from_an_earlier_run', {}).get(key, earlier.get('date'))
                for key in kept}
        stored['speed'] = results
        path.write_text(json.dumps(stored, indent=2) + '\n')
        print(f'written to {path}')


def _training_ratios(training):
    full, cached = training['full'], training['frozen_cached']
    training['later_epoch_speedup'] = round(
        full['later_epoch_s_median'] / max(cached['later_epoch_s_median'], 1e-9), 1)


def report(results):
    """Print the tables."""
    rows = results.get('model_only')
    limits = results.get('peak', {})
    if rows:
        print(f"\n{'path':<52} {'ms p50':>7} {'fps':>6} {'x course':>8} {'model ms':>8} "
              f"{'GMAC/s':>7} {'of peak':>7} {'of GEMM':>7}")
        for name, row in rows.items():
            kind = precision(name)
            limit = limits.get(kind, {}).get('derived_gmacs_per_s')
            gemm = limits.get('library_gemm', {}).get(f'{kind}_gmacs_per_s')
            row['share_of_peak'] = round(row['gmacs_per_s'] / limit, 3) if limit else None
            row['share_of_library_gemm'] = round(row['gmacs_per_s'] / gemm, 3) if gemm else None
            shares = [f'{share:.0%}' if share else '-'
                      for share in (row['share_of_peak'], row['share_of_library_gemm'])]
            print(f"{row['path']:<52} {row['latency_ms_p50']:>7.2f} {row['fps']:>6.1f} "
                  f"{row['speedup_vs_course']:>8.2f} {row['model_ms_p50']:>8.2f} "
                  f"{row['gmacs_per_s']:>7.1f} {shares[0]:>7} {shares[1]:>7}")
    if 'cpu' in limits:  # (blocks from before the derived peak have none)
        for line in describe_peak(limits):
            print(f'peak, {line}')
        for kind in ('int8', 'fp32'):
            if limits.get(kind, {}).get('derived_gmacs_per_s'):
                print(f"peak, {kind}: {GMACS / limits[kind]['derived_gmacs_per_s'] * 1e3:.2f} "
                      'ms per image at the derived peak')
        gemm = limits.get('library_gemm')
        if gemm:
            print(f"library GEMM: fp32 {gemm['fp32_gmacs_per_s']} GMAC/s, int8 "
                  f"{gemm['int8_gmacs_per_s']} GMAC/s; {gemm['how']}")
    for row in results.get('pipeline', []):
        if rows:
            row['fps_over_course_model_only'] = round(
                row['throughput']['fps'] / rows['course']['fps'], 2)
        print(f"pipeline {row['backend']} threads={row['threads']}"
              f"{' repeat ' + str(row['repeat']) if 'repeat' in row else ''}: "
              f"{row['throughput']['fps']} "
              f"fps ({row['fps_over_model_only']:.0%} of model only, "
              f"{row.get('fps_over_course_pipeline', '-')}x the course's pipeline, "
              f"{row.get('fps_over_course_model_only', '-')}x its model only), at 30 fps p50 "
              f"{row['at_30fps']['latency_ms_p50']} ms, p99 {row['at_30fps']['latency_ms_p99']} "
              f"ms, ROS part p50 {row['at_30fps'].get('ros_ms_p50')} ms, CPU per result "
              f"{row['throughput'].get('pipeline_cpu_ms_per_result')} ms against "
              f"{row['throughput'].get('model_only_cpu_ms')} ms alone")
    if 'accuracy' in results:
        print(f"accuracy on {results['accuracy']['images']} held-out images: " + ', '.join(
            f'{k} {v}' for k, v in results['accuracy'].items()
            if k.startswith(('torch', 'ort', 'ov'))))
    if 'training' in results:
        t = results['training']
        for name in ('full', 'frozen_cached'):
            print(f'training {name}: {json.dumps(t[name])}')
        print('later epochs, frozen with cached features vs full: '
              f"{t['later_epoch_speedup']}x faster")


if __name__ == '__main__':
    main()

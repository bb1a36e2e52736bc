"""How the CPU engines run a model: threads, ONNX Runtime session options, OpenVINO's config.

No torch here: the benchmarks' engine processes import only this and their engine.
"""

import os


def available_cpus():
    """Return the number of CPUs this process may run on (hyperthreads count)."""
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def physical_cores():
    """Return the number of physical cores this process may run on (hyperthreads count once)."""
    cpus = os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else \
        range(os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        try:
            with open(f'/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list') as f:
                cores.add(f.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def onnx_session_options(threads=0):
    """Return the ONNX Runtime session options nano_vision runs models with.

    :param threads: intra-op threads; 0: one per physical core
    """
    import onnxruntime
    options = onnxruntime.SessionOptions()
    # one thread per physical core: hyperthreads share the same vector units
    options.intra_op_num_threads = threads if threads > 0 else physical_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle threads sleep instead of spinning: on a small machine the camera, DDS and the
    # other nodes need those cores between frames (measured: bench/speed.py)
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return options


def openvino_config(threads=0):
    """Return the OpenVINO CPU plugin properties nano_vision compiles models with.

    Latency first: one stream (one frame at a time), one thread per physical core
    (or ``threads``), and f32 for what is not int8: on CPUs with AVX-512 BF16 the plugin
    would otherwise run fp32 models in bf16, and an fp32 export promises PyTorch's answers.
    """
    return {'PERFORMANCE_HINT': 'LATENCY', 'NUM_STREAMS': 1,
            'INFERENCE_NUM_THREADS': threads if threads > 0 else physical_cores(),
            'INFERENCE_PRECISION_HINT': 'f32'}

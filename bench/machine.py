"""The description of this machine that every benchmark stores with its numbers."""

import json
import os
import pathlib
import platform

# CPU features that decide which kernels torch, oneDNN and ONNX Runtime use
FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8')


def machine():
    """Return the CPU model and features, core count, Python version and RMW.

    Needs neither ROS nor torch, so every benchmark can call it.
    """
    info = {'cpu': platform.processor(), 'cores': os.cpu_count(),
            'python': platform.python_version(), 'flags': [],
            'rmw': os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp (default)')}
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                info['cpu'] = line.split(':', 1)[1].strip()
            if line.startswith('flags'):
                flags = set(line.split(':', 1)[1].split())
                info['flags'] = [flag for flag in FLAGS if flag in flags]
    except OSError:
        pass
    return info


#: where every benchmark keeps its figures, each under its own key
RESULTS = pathlib.Path(__file__).resolve().parent / 'results.json'


def store_results(key, value):
    """Put ``value`` under ``key`` in bench/results.json; the other keys stay as they are."""
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    stored[key] = value
    RESULTS.write_text(json.dumps(stored, indent=2) + '\n')

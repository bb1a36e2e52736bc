"""Where the int8 model's time goes, layer by layer, against the cores' peak.

OpenVINO's performance counters time each layer of the int8 ResNet-18 (the x86 default
path, batch 1, 224x224, the node's settings) over many inferences; each convolution's
multiply-accumulates (from the ONNX graph's shapes) over its time give its GMAC/s and
its share of the derived int8 peak (bench/peak.py, measured in the same run). Also: the
wall time per inference against the sum of the layers (what runs between them).

Merged into bench/results.json under ``layers`` unless ``--no-save``.

python bench/layers.py                   # a ResNet-18 exported and quantised here
python bench/layers.py --model thumbs.int8.onnx
"""

import argparse
import collections
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
sys.path.insert(0, str(ROOT))

from machine import machine, store_results  # noqa: E402, I100
import peak as peak_bench  # noqa: E402


def make_model(folder):
    """Export and quantise a ResNet-18 classifier (random weights, rendered calibration)."""
    import torch
    from nano_vision.datasets.synth import write_synthetic_dataset
    from nano_vision.image.preprocess import Preprocessing
    from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint
    from nano_vision.ml.export import quantize_int8
    from nano_vision.ml.model import build_model
    data = os.path.join(folder, 'thumbs')
    write_synthetic_dataset('thumbs', data, 64, 224, seed=1)
    torch.manual_seed(0)
    pt = os.path.join(folder, 'resnet18_224.pt')
    save_checkpoint(make_checkpoint(
        build_model('resnet18', 2), task='classification', arch='resnet18',
        names=['thumbs_down', 'thumbs_up'], preprocessing=Preprocessing(224),
        train_options={'data': data, 'val_fraction': 0.2, 'seed': 0}), pt)
    path, _ = quantize_int8(pt, count=32)
    return path


def layer_macs(path):
    """Return the multiply-accumulates of each Conv and Gemm node of an ONNX file, by name."""
    import onnx
    model = onnx.shape_inference.infer_shapes(onnx.load(path))
    graph = model.graph
    shapes = {}
    for value in (*graph.value_info, *graph.output, *graph.input):
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        shapes[value.name] = dims
    weights = {init.name: list(init.dims) for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}

    def weight_shape(name):  # through a DequantizeLinear in a QDQ model
        while name not in weights and name in producers:
            name = producers[name].input[0]
        return weights.get(name)

    macs = {}
    for node in graph.node:
        if node.op_type not in ('Conv', 'Gemm'):
            continue
        weight, out = weight_shape(node.input[1]), shapes.get(node.output[0])
        if not weight or not out:
            continue
        if node.op_type == 'Conv':  # weight: (out channels, in channels / group, kh, kw)
            macs[node.name] = int(np.prod(out[1:]) * np.prod(weight[1:]))
        else:
            macs[node.name] = int(np.prod(weight))
    return macs


def profile(path, iterations, threads):
    """Return the wall ms per inference and each layer's mean ms (OpenVINO perf counters)."""
    import openvino
    from nano_vision.ml.cpu import openvino_config
    core = openvino.Core()
    config = dict(openvino_config(threads), PERF_COUNT=True)
    request = core.compile_model(core.read_model(path), 'CPU', config).create_infer_request()
    batch = np.random.default_rng(0).random((1, 3, 224, 224), np.float32)
    for _ in range(50):
        request.infer({0: batch})
    layers, walls = collections.defaultdict(float), []
    for _ in range(iterations):
        began = time.perf_counter()
        request.infer({0: batch})
        walls.append(time.perf_counter() - began)
        for counter in request.profiling_info:
            layers[(counter.node_name, counter.node_type, counter.exec_type)] += \
                counter.real_time.total_seconds()
    return statistics.median(walls) * 1e3, {key: seconds * 1e3 / iterations
                                            for key, seconds in layers.items()}


def onnx_name(openvino_name):
    """Return the ONNX node a layer of OpenVINO's came from (it adds suffixes)."""
    return openvino_name.split('/WithoutBiases')[0].split('/DequantizationMultiply')[0]


def main():
    """Profile the model, print the table and merge it into results.json."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', help='an int8 .onnx export (default: one made here)')
    parser.add_argument('--iterations', type=int, default=300)
    parser.add_argument('--threads', type=int, default=0, help='0: one per physical core')
    parser.add_argument('--no-save', action='store_true', help='leave results.json alone')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or make_model(tmp)
        macs = layer_macs(model)
        peak = peak_bench.measure()
        wall_ms, layers = profile(model, args.iterations, args.threads)
    limit = peak['int8'].get('derived_gmacs_per_s')
    rows = []
    for (name, kind, engine), ms in sorted(layers.items(), key=lambda item: -item[1]):
        if ms < 0.001:
            continue
        row = {'layer': name, 'type': kind, 'kernel': engine, 'ms': round(ms, 4)}
        count = macs.get(onnx_name(name))
        if count:
            row.update(mmacs=round(count / 1e6, 1), gmacs_per_s=round(count / ms / 1e6, 1))
            if limit:
                row['share_of_peak'] = round(row['gmacs_per_s'] / limit, 3)
        rows.append(row)
    total_macs = sum(macs.values())
    layers_ms = sum(row['ms'] for row in rows)
    with_macs = [row for row in rows if 'mmacs' in row]
    results = {
        'machine': machine(), 'date': time.strftime('%Y-%m-%d %H:%M'),
        'model': os.path.basename(model) if args.model else 'ResNet-18 int8 (QDQ), made here',
        'derived_int8_gmacs_per_s': limit, 'clock_ghz': peak.get('clock_ghz'),
        'kernel_share_of_derived': peak['int8'].get('kernel_share_of_derived'),
        'wall_ms_p50': round(wall_ms, 3), 'sum_of_layers_ms': round(layers_ms, 3),
        'between_layers_ms': round(wall_ms - layers_ms, 3),
        'gmacs': round(total_macs / 1e9, 3),
        'whole_model_share_of_peak': round(total_macs / wall_ms / 1e6 / limit, 3)
        if limit else None,
        'macs_layers_ms': round(sum(row['ms'] for row in with_macs), 3),
        'layers': rows}
    print(f"wall {results['wall_ms_p50']} ms per inference, layers {results['sum_of_layers_ms']} "
          f"ms, between them {results['between_layers_ms']} ms; {results['gmacs']} GMACs; "
          f"derived int8 peak {limit} GMAC/s (kernel {results['kernel_share_of_derived']}); "
          f"whole model {results['whole_model_share_of_peak']} of it")
    for row in rows:
        share = f"{row['share_of_peak']:.0%}" if 'share_of_peak' in row else ''
        print(f"{row['ms']:8.4f} ms {row.get('mmacs', ''):>8} MMACs "
              f"{row.get('gmacs_per_s', ''):>8} GMAC/s {share:>5}  {row['type']:14} "
              f"{row['layer'][:60]}")
    if not args.no_save:
        store_results('layers', results)


if __name__ == '__main__':
    main()

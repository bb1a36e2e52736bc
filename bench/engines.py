"""CPU inference engines and their settings for ResNet-18, fp32 and int8, model only.

One run measures, on this machine, the network alone (batch 1, 224x224, inputs
prepared from 640x480 synthetic thumbs frames by nano_vision's preprocessing;
random weights: they do not change the arithmetic) in variants of:

- ONNX Runtime: the settings nano_vision runs with (``onnx_session_options``),
  then one change each: idle threads spinning, one thread, denormals as zero,
  graph optimisation level EXTENDED (no layout optimisations), the NHWC layout
  transformer off, an ahead-of-time optimised model file, and for int8 the
  QOperator export (QLinearConv) and uint8 weights (u8u8) instead of QDQ u8s8;
- OpenVINO's CPU plugin on the same ONNX files: latency hint, one stream, one
  thread per physical core; int8 with and without CPU pinning and with the
  float parts in f32 instead of the plugin's bf16 default; fp32 in f32 and
  with the bf16 inference precision hint.

Each variant runs in its own process (one library's thread pool never spins
against another's), in interleaved rounds; every figure is the median of all
the rounds' timings, and a ratio compares variants of this run only. Each
variant's outputs on the 8 frames are compared with ONNX Runtime fp32's
(probabilities, top-1).

Run after ``. ./activate.sh``:  python bench/engines.py [--rounds 5] [--quick]
Merges the numbers into bench/results.json under ``engines`` (not with --quick).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from machine import machine as describe_machine  # noqa: I100
from speed import GMACS, prepare, timed

ROOT = pathlib.Path(__file__).resolve().parents[1]

# name: (what it is, model file, engine, settings)
VARIANTS = {
    'ort_int8': ('ONNX Runtime int8 QDQ u8s8, nano_vision settings', 'int8', 'ort', {}),
    'ort_int8_spin': ('... idle threads spinning', 'int8', 'ort', {'spin': True}),
    'ort_int8_1thread': ('... one thread', 'int8', 'ort', {'threads': 1}),
    'ort_int8_denormal_zero': ('... session.set_denormal_as_zero', 'int8', 'ort',
                               {'denormal_zero': True}),
    'ort_int8_extended': ('... optimisation level EXTENDED (no layout passes)', 'int8', 'ort',
                          {'level': 'extended'}),
    'ort_int8_no_nhwc': ('... NhwcTransformer disabled', 'int8', 'ort',
                         {'disabled': ['NhwcTransformer']}),
    'ort_int8_aot': ('... ahead-of-time optimised model file', 'int8_aot', 'ort',
                     {'level': 'disabled'}),
    'ort_int8_qoperator': ('... QOperator export (QLinearConv)', 'int8_qoperator', 'ort', {}),
    'ort_int8_u8u8': ('... uint8 weights (u8u8)', 'int8_u8u8', 'ort', {}),
    'ort_fp32': ('ONNX Runtime fp32, nano_vision settings', 'onnx', 'ort', {}),
    'ort_fp32_spin': ('... idle threads spinning', 'onnx', 'ort', {'spin': True}),
    'ort_fp32_denormal_zero': ('... session.set_denormal_as_zero', 'onnx', 'ort',
                               {'denormal_zero': True}),
    'ort_fp32_extended': ('... optimisation level EXTENDED (no layout passes)', 'onnx', 'ort',
                          {'level': 'extended'}),
    'ov_int8': ('OpenVINO int8 (the QDQ file), latency hint, 1 stream', 'int8', 'ov', {}),
    'ov_int8_no_pinning': ('... ENABLE_CPU_PINNING off', 'int8', 'ov',
                           {'ENABLE_CPU_PINNING': False}),
    'ov_int8_f32': ('... float parts in f32 (INFERENCE_PRECISION_HINT f32)', 'int8', 'ov',
                    {'INFERENCE_PRECISION_HINT': 'f32'}),
    'ov_fp32': ('OpenVINO fp32 (INFERENCE_PRECISION_HINT f32)', 'onnx', 'ov',
                {'INFERENCE_PRECISION_HINT': 'f32'}),
    'ov_bf16': ('OpenVINO fp32 file, INFERENCE_PRECISION_HINT bf16', 'onnx', 'ov',
                {'INFERENCE_PRECISION_HINT': 'bf16'}),
}


def ort_runner(path, settings):
    """Return ``run(batch)`` of an ONNX Runtime session: nano_vision's options, then changes."""
    import onnxruntime
    from nano_vision.ml.predictor import onnx_session_options
    options = onnx_session_options(settings.get('threads', 0))
    if settings.get('spin'):
        options.add_session_config_entry('session.intra_op.allow_spinning', '1')
    if settings.get('denormal_zero'):
        options.add_session_config_entry('session.set_denormal_as_zero', '1')
    levels = {'extended': onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              'disabled': onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL}
    if 'level' in settings:
        options.graph_optimization_level = levels[settings['level']]
    session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'],
                                           disabled_optimizers=settings.get('disabled', []))
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def ov_runner(path, settings):
    """Return ``run(batch)`` of an OpenVINO CPU compiled model with ``settings`` added."""
    import openvino
    from nano_vision.ml.predictor import physical_cores
    config = {'PERFORMANCE_HINT': 'LATENCY', 'NUM_STREAMS': 1,
              'INFERENCE_NUM_THREADS': physical_cores(), **settings}
    request = openvino.Core().compile_model(path, 'CPU', config).create_infer_request()

    def run(batch):
        request.infer({0: batch})
        return request.get_output_tensor(0).data.copy()
    return run


def child(name, models, iterations):
    """Time one variant in this process; print JSON."""
    _, key, engine, settings = VARIANTS[name]
    run = (ort_runner if engine == 'ort' else ov_runner)(models[key], settings)
    inputs = np.load(models['inputs'])
    outputs = [run(inputs[i:i + 1])[0].tolist() for i in range(len(inputs))]
    count = [0]

    def next_input():
        count[0] += 1
        run(inputs[count[0] % len(inputs)][None])
    print(json.dumps({'model': timed(next_input, iterations, 5), 'outputs': outputs}))


def softmax(logits):
    """Return the probabilities of (N, C) logits."""
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def measure(models, names, rounds, iterations):
    """Time every variant in its own process, ``rounds`` times interleaved."""
    samples = {name: [] for name in names}
    outputs = {}
    for round_ in range(rounds):
        for name in names:
            out = subprocess.run([sys.executable, __file__, '--child', name, '--models',
                                  json.dumps(models), '--iterations', str(iterations)],
                                 check=True, capture_output=True, text=True)
            values = json.loads(out.stdout.strip().splitlines()[-1])
            samples[name] += values['model']
            outputs[name] = np.array(values['outputs'])
            print(f'  round {round_ + 1}/{rounds} {name:<24} '
                  f'{statistics.median(values["model"]) * 1e3:7.2f} ms', flush=True)
    reference = softmax(outputs['ort_fp32']) if 'ort_fp32' in outputs else None
    base = statistics.median(samples[names[0]])
    rows = {}
    for name in names:
        seconds = statistics.median(samples[name])
        rows[name] = {'variant': VARIANTS[name][0], 'model_ms_p50': round(seconds * 1e3, 2),
                      'model_ms_p90': round(float(np.percentile(samples[name], 90)) * 1e3, 2),
                      'gmacs_per_s': round(GMACS / seconds, 1),
                      f'speed_over_{names[0]}': round(base / seconds, 3),
                      'repeats': len(samples[name])}
        if reference is not None:
            probabilities = softmax(outputs[name])
            rows[name]['max_probability_difference_to_ort_fp32'] = round(
                float(np.abs(probabilities - reference).max()), 4)
            rows[name]['top1_agreement_with_ort_fp32'] = float(
                (probabilities.argmax(1) == reference.argmax(1)).mean())
    return rows


def prepare_models(tmp, quick):
    """Write the models, their variants and the prepared inputs; return their paths."""
    from nano_vision.ml.export import quantize_int8
    from nano_vision.ml.predictor import load_predictor, onnx_session_options
    import onnxruntime
    paths = prepare(tmp, quick)
    count = 32 if quick else 128
    models = {k: paths[k] for k in ('onnx', 'int8')}
    models['int8_qoperator'], _ = quantize_int8(
        paths['pt'], os.path.join(tmp, 'qoperator.onnx'), count=count, quant_format='qoperator')
    models['int8_u8u8'], _ = quantize_int8(
        paths['pt'], os.path.join(tmp, 'u8u8.onnx'), count=count, weight_type='uint8')
    # ONNX Runtime writes the graph it optimised (for this CPU) to load it unoptimised later
    options = onnx_session_options()
    options.optimized_model_filepath = models['int8_aot'] = os.path.join(tmp, 'int8.aot.onnx')
    onnxruntime.InferenceSession(paths['int8'], options, providers=['CPUExecutionProvider'])
    predictor = load_predictor(paths['onnx'], 'cpu')
    models['inputs'] = os.path.join(tmp, 'inputs.npy')
    np.save(models['inputs'], predictor.prepare([np.load(f) for f in paths['frames']]))
    return models


def main():
    """Run every variant and print and store the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run: 1 round, 8 frames')
    parser.add_argument('--rounds', type=int, default=5, help='interleaved rounds of variants')
    parser.add_argument('--iterations', type=int, default=60, help='runs per variant per round')
    parser.add_argument('--only', nargs='+', choices=list(VARIANTS),
                        help='these variants only (the first is the base of the ratios)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--models', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.models), args.iterations)
        return
    if args.quick:
        args.rounds, args.iterations = 1, 8
    import onnxruntime
    import openvino
    info = describe_machine()
    info.update(onnxruntime=onnxruntime.__version__, openvino=openvino.__version__,
                load_average_before=[round(v, 2) for v in os.getloadavg()])
    print(f"machine: {info['cpu']}, {info['cores']} cores ({', '.join(info['flags'])}), "
          f"onnxruntime {info['onnxruntime']}, openvino {info['openvino']}, load average "
          f"{info['load_average_before']}", flush=True)
    names = args.only or list(VARIANTS)
    with tempfile.TemporaryDirectory() as tmp:
        models = prepare_models(tmp, args.quick)
        rows = measure(models, names, args.rounds, args.iterations)
    info['load_average_after'] = [round(v, 2) for v in os.getloadavg()]
    ratio = f'speed_over_{names[0]}'
    print(f"\n{'variant':<26} {'model ms':>8} {'GMAC/s':>7} {'x ' + names[0]:>12} "
          f"{'p diff':>7} {'top-1':>6}")
    for name, row in rows.items():
        print(f"{name:<26} {row['model_ms_p50']:>8.2f} {row['gmacs_per_s']:>7.1f} "
              f'{row[ratio]:>12.3f} '
              f"{row.get('max_probability_difference_to_ort_fp32', float('nan')):>7.4f} "
              f"{row.get('top1_agreement_with_ort_fp32', float('nan')):>6.2f}")
    print(f"load average after: {info['load_average_after']}")
    if not args.quick:
        path = ROOT / 'bench' / 'results.json'
        stored = json.loads(path.read_text()) if path.exists() else {}
        stored['engines'] = {'machine': info, 'date': time.strftime('%Y-%m-%d %H:%M'),
                             'rounds': args.rounds, 'iterations': args.iterations,
                             'variants': rows}
        path.write_text(json.dumps(stored, indent=2) + '\n')
        print(f'written to {path}')


if __name__ == '__main__':
    main()

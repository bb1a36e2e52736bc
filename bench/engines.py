"""CPU inference engines and their settings for ResNet-18, fp32 and int8, model only.

One run measures, on this machine, the network alone (batch 1, 224x224, inputs
prepared from 640x480 synthetic thumbs frames by nano_vision's preprocessing;
random weights: they do not change the arithmetic) in variants of:

- ONNX Runtime: the settings nano_vision runs with (``onnx_session_options``),
  then one change each: idle threads spinning, one thread, denormals as zero,
  graph optimisation level EXTENDED (no layout optimisations), the NHWC layout
  transformer off, an ahead-of-time optimised model file, and for int8 the
  QOperator export (QLinearConv) and uint8 weights (u8u8) instead of QDQ u8s8;
- OpenVINO's CPU plugin on the same ONNX files (when ``openvino`` is installed),
  with the settings of nano_vision's ``backend openvino`` (``openvino_config``:
  latency hint, one stream, one thread per physical core, f32 for what is not
  int8), then one change each: CPU pinning off, the bf16 inference precision hint.

Each variant runs in its own process (one library's thread pool never spins
against another's), all of them started first and kept warm; then in each round
every process in turn times ``--iterations`` runs, with a pause between turns for
idle threads to sleep, the order shifted by one each round. Rounds interleave the
variants finely, so a machine whose speed drifts (shared cores) slows them alike:
each variant's ratio to the first is the median over rounds of the ratio of the
two round medians. Each process also reports the CPU time it used per run (the
work done, which other processes on the machine change less than the wall time). Each variant's
outputs on the 8 frames are compared with ONNX Runtime fp32's (probabilities,
top-1).

Run after ``. ./activate.sh``:  python bench/engines.py [--rounds 30] [--quick]
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
    'ov_int8': ('OpenVINO int8 (the QDQ file), nano_vision settings', 'int8', 'ov', {}),
    'ov_int8_no_pinning': ('... ENABLE_CPU_PINNING off', 'int8', 'ov',
                           {'ENABLE_CPU_PINNING': False}),
    'ov_int8_bf16': ('... float parts in bf16 (INFERENCE_PRECISION_HINT)', 'int8', 'ov',
                     {'INFERENCE_PRECISION_HINT': 'bf16'}),
    'ov_fp32': ('OpenVINO fp32, nano_vision settings', 'onnx', 'ov', {}),
    'ov_fp32_bf16': ('... bf16 (INFERENCE_PRECISION_HINT)', 'onnx', 'ov',
                     {'INFERENCE_PRECISION_HINT': 'bf16'}),
}


def ort_runner(path, settings):
    """Return ``run(batch)`` of an ONNX Runtime session: nano_vision's options, then changes."""
    import onnxruntime
    from nano_vision.ml.cpu import onnx_session_options
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
    """Return ``run(batch)`` of an OpenVINO CPU compiled model: nano_vision's config, changed."""
    import openvino
    from nano_vision.ml.cpu import openvino_config
    compiled = openvino.Core().compile_model(path, 'CPU', {**openvino_config(), **settings})
    request = compiled.create_infer_request()

    def run(batch):
        request.infer({0: batch})
        return request.get_output_tensor(0).data.copy()
    return run


def serve(name, models):
    """Load one variant, print its outputs, then time ``N`` runs per line read; print JSON."""
    _, key, engine, settings = VARIANTS[name]
    run = (ort_runner if engine == 'ort' else ov_runner)(models[key], settings)
    inputs = np.load(models['inputs'])
    outputs = [run(inputs[i:i + 1])[0].tolist() for i in range(len(inputs))]
    count = [0]

    def next_input():
        count[0] += 1
        run(inputs[count[0] % len(inputs)][None])
    timed(next_input, 0, 5)
    print(json.dumps({'outputs': outputs}), flush=True)
    for line in sys.stdin:
        cpu = time.process_time()
        wall = timed(next_input, int(line), 1)
        # CPU seconds of this process per run (the warm-up run included): the work done,
        # which the other processes of a shared machine change less than the wall time
        print(json.dumps({'wall': wall, 'cpu': (time.process_time() - cpu) / (len(wall) + 1)}),
              flush=True)


def softmax(logits):
    """Return the probabilities of (N, C) logits."""
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def measure(models, names, rounds, iterations, pause):
    """Time every variant in its own warm process, ``rounds`` times interleaved."""
    servers, outputs = {}, {}
    try:
        for name in names:  # one at a time: loading competes for the cores
            servers[name] = subprocess.Popen(
                [sys.executable, __file__, '--serve', name, '--models', json.dumps(models)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            outputs[name] = np.array(json.loads(servers[name].stdout.readline())['outputs'])
        samples = {name: [] for name in names}
        for round_ in range(rounds):
            shift = round_ % len(names)  # each variant takes every place in the order in turn
            for name in names[shift:] + names[:shift]:
                time.sleep(pause)  # the previous variant's idle threads go to sleep
                servers[name].stdin.write(f'{iterations}\n')
                servers[name].stdin.flush()
                samples[name].append(json.loads(servers[name].stdout.readline()))
            print(f'  round {round_ + 1}/{rounds} (ms, cpu ms): ' + ', '.join(
                f"{name} {statistics.median(samples[name][-1]['wall']) * 1e3:.2f} "
                f"{samples[name][-1]['cpu'] * 1e3:.2f}" for name in names), flush=True)
    finally:
        for server in servers.values():
            server.stdin.close()
            server.wait()
    reference = softmax(outputs['ort_fp32']) if 'ort_fp32' in outputs else None
    base = names[0]
    rows = {}
    for name in names:
        every = [t for turn in samples[name] for t in turn['wall']]
        seconds = statistics.median(every)
        paired = [statistics.median(a['wall']) / statistics.median(b['wall'])
                  for a, b in zip(samples[base], samples[name])]
        cpu = [turn['cpu'] for turn in samples[name]]
        paired_cpu = [a['cpu'] / b['cpu'] for a, b in zip(samples[base], samples[name])]
        rows[name] = {'variant': VARIANTS[name][0], 'model_ms_p50': round(seconds * 1e3, 2),
                      'model_ms_p90': round(float(np.percentile(every, 90)) * 1e3, 2),
                      'gmacs_per_s': round(GMACS / seconds, 1),
                      f'speed_over_{base}': round(statistics.median(paired), 3),
                      f'speed_over_{base}_rounds_q25_q75': [
                          round(float(q), 3) for q in np.percentile(paired, [25, 75])],
                      'cpu_ms_per_run_p50': round(statistics.median(cpu) * 1e3, 2),
                      f'cpu_over_{base}': round(1 / statistics.median(paired_cpu), 3),
                      'repeats': len(every)}
        if reference is not None:
            probabilities = softmax(outputs[name])
            rows[name]['max_probability_difference_to_ort_fp32'] = round(
                float(np.abs(probabilities - reference).max()), 4)
            rows[name]['top1_agreement_with_ort_fp32'] = float(
                (probabilities.argmax(1) == reference.argmax(1)).mean())
    return rows


def prepare_models(tmp, quick, names):
    """Write the models the variants ``names`` run and the prepared inputs; return paths."""
    import onnxruntime
    from nano_vision.ml.cpu import onnx_session_options
    from nano_vision.ml.export import quantize_int8
    from nano_vision.ml.predictor import load_predictor
    paths = prepare(tmp, quick)
    count = 32 if quick else 128
    needed = {VARIANTS[name][1] for name in names}
    models = {k: paths[k] for k in ('onnx', 'int8')}
    if 'int8_qoperator' in needed:
        models['int8_qoperator'], _ = quantize_int8(
            paths['pt'], os.path.join(tmp, 'qoperator.onnx'), count=count,
            quant_format='qoperator')
    if 'int8_u8u8' in needed:
        models['int8_u8u8'], _ = quantize_int8(
            paths['pt'], os.path.join(tmp, 'u8u8.onnx'), count=count, weight_type='uint8')
    if 'int8_aot' in needed:
        # ONNX Runtime writes the graph it optimised (for this CPU), loaded unoptimised later
        options = onnx_session_options()
        options.optimized_model_filepath = models['int8_aot'] = os.path.join(
            tmp, 'int8.aot.onnx')
        onnxruntime.InferenceSession(paths['int8'], options,
                                     providers=['CPUExecutionProvider'])
    predictor = load_predictor(paths['onnx'], 'cpu')
    models['inputs'] = os.path.join(tmp, 'inputs.npy')
    np.save(models['inputs'], predictor.prepare([np.load(f) for f in paths['frames']]))
    return models


def main():
    """Run every variant and print and store the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run: 2 rounds of 5 runs')
    parser.add_argument('--rounds', type=int, default=30, help='interleaved rounds of variants')
    parser.add_argument('--iterations', type=int, default=20, help='runs per variant per round')
    parser.add_argument('--pause', type=float, default=0.05,
                        help='seconds between the turns of two variants')
    parser.add_argument('--only', nargs='+', choices=list(VARIANTS),
                        help='these variants only (the first is the base of the ratios)')
    parser.add_argument('--serve', help=argparse.SUPPRESS)
    parser.add_argument('--models', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, json.loads(args.models))
        return
    if args.quick:
        args.rounds, args.iterations = 2, 5
    import onnxruntime
    names = args.only or list(VARIANTS)
    info = describe_machine()
    info.update(onnxruntime=onnxruntime.__version__, openvino=None,
                load_average_before=[round(v, 2) for v in os.getloadavg()])
    try:
        import openvino
        info['openvino'] = openvino.__version__
    except ImportError:
        names = [name for name in names if VARIANTS[name][2] != 'ov']
        print('openvino is not installed: its variants are left out', flush=True)
    print(f"machine: {info['cpu']}, {info['cores']} cores ({', '.join(info['flags'])}), "
          f"onnxruntime {info['onnxruntime']}, openvino {info['openvino']}, load average "
          f"{info['load_average_before']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        models = prepare_models(tmp, args.quick, names)
        rows = measure(models, names, args.rounds, args.iterations, args.pause)
    info['load_average_after'] = [round(v, 2) for v in os.getloadavg()]
    ratio = f'speed_over_{names[0]}'
    print(f"\n{'variant':<24} {'model ms':>8} {'GMAC/s':>7} {'x ' + names[0]:>10} "
          f"{'(q25-q75)':>13} {'cpu ms':>7} {'cpu x':>6} {'p diff':>7} {'top-1':>6}")
    for name, row in rows.items():
        low, high = row[ratio + '_rounds_q25_q75']
        print(f"{name:<24} {row['model_ms_p50']:>8.2f} {row['gmacs_per_s']:>7.1f} "
              f'{row[ratio]:>10.3f} {f"({low:.2f}-{high:.2f})":>13} '
              f"{row['cpu_ms_per_run_p50']:>7.2f} {row[f'cpu_over_{names[0]}']:>6.2f} "
              f"{row.get('max_probability_difference_to_ort_fp32', float('nan')):>7.4f} "
              f"{row.get('top1_agreement_with_ort_fp32', float('nan')):>6.2f}")
    print(f"load average after: {info['load_average_after']}")
    if not args.quick:
        path = ROOT / 'bench' / 'results.json'
        stored = json.loads(path.read_text()) if path.exists() else {}
        stored['engines'] = {'machine': info, 'date': time.strftime('%Y-%m-%d %H:%M'),
                             'command': ' '.join(['python', 'bench/engines.py', *sys.argv[1:]]),
                             'rounds': args.rounds, 'iterations': args.iterations,
                             'variants': rows}
        path.write_text(json.dumps(stored, indent=2) + '\n')
        print(f'written to {path}')


if __name__ == '__main__':
    main()

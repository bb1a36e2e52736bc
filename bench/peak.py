"""The cores' peak for inference: derived from the hardware, and a kernel that reaches it.

The derived peak of one precision (int8, fp32) is

    multiply-accumulates per instruction   (the widest instruction the CPU reports)
  x instructions per cycle per core        (CORES: documented throughput of the core)
  x clock                                  (measured: dependent adds, all cores at once)
  x physical cores

and the kernel (peak_kernel.c, compiled here with the system's gcc) runs that very
instruction from registers on every core at once, to show how much of it code can reach.
Both the clock and the kernel are timed in each thread's own CPU time, so other processes
on the machine slow neither; ``cpu_share`` says how much of the wall time the threads got.

Run after ``. ./activate.sh``:  python bench/peak.py [--seconds S] [--rounds N]
(bench/speed.py runs the same measurement as its ``peak`` part and stores it.)
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile

SOURCE = pathlib.Path(__file__).with_name('peak_kernel.c')

# Instruction-set flag (/proc/cpuinfo) -> (precision, instruction, multiply-accumulates per
# instruction, the kernel of peak_kernel.c that runs it), best first within a precision.
INSTRUCTIONS = {
    'amx_int8': ('int8', 'tdpbusd (AMX tile, 16x64 uint8 by 64x16 int8)', 16 * 16 * 64, None),
    'avx512_vnni': ('int8', 'vpdpbusd zmm (64 uint8 x int8 into 16 int32)', 64,
                    'int8_avx512_vnni'),
    'avx_vnni': ('int8', 'vpdpbusd ymm, VEX (32 uint8 x int8 into 8 int32)', 32,
                 'int8_avx_vnni'),
    # 32 uint8 x int8 products per vpmaddubsw + vpmaddwd pair: 16 per multiply instruction
    'avx2': ('int8', 'vpmaddubsw + vpmaddwd ymm (32 uint8 x int8 per pair)', 16, 'int8_avx2'),
    'asimddp': ('int8', 'sdot (16 int8 x int8 into 4 int32)', 16, None),
    'avx512f': ('fp32', 'vfmadd231ps zmm (16 fp32)', 16, 'fp32_avx512'),
    'fma': ('fp32', 'vfmadd231ps ymm (8 fp32)', 8, 'fp32_fma'),
    'asimd': ('fp32', 'fmla v.4s (4 fp32)', 4, None),
}

ZEN5 = ('AMD Software Optimization Guide for the AMD Zen 5 Microarchitecture (58455): four '
        '512-bit vector pipes, two of which multiply (FMA, vpdpbusd, vpmadd*); checked by '
        'this kernel on an EPYC family 26 model 2')
ZEN4 = ('AMD Software Optimization Guide for the AMD Zen 4 Microarchitecture (57647): two '
        '256-bit multiply pipes, 512-bit instructions split into two halves')
# (vendor, family, models or None for all) -> (core, instructions per cycle per core for
# each flag of INSTRUCTIONS; for avx2 int8: multiply instructions), where the figure is from.
# ARM cores are keyed by implementer and part ('0x41', part, None).
CORES = [
    (('AuthenticAMD', 26, range(0x00, 0x20)), 'Zen 5 (EPYC 9005)',
     {'avx512f': 2, 'fma': 2, 'avx512_vnni': 2, 'avx_vnni': 2, 'avx2': 2}, ZEN5),
    (('AuthenticAMD', 26, range(0x40, 0x50)), 'Zen 5 (Ryzen 9000)',
     {'avx512f': 2, 'fma': 2, 'avx512_vnni': 2, 'avx_vnni': 2, 'avx2': 2}, ZEN5),
    (('AuthenticAMD', 25, [*range(0x10, 0x20), *range(0x60, 0x80), *range(0xa0, 0xb0)]),
     'Zen 4', {'avx512f': 1, 'fma': 2, 'avx512_vnni': 1, 'avx_vnni': 2, 'avx2': 2}, ZEN4),
    (('GenuineIntel', 6, [0x8f, 0xcf, 0xad, 0xae]),
     'Sapphire / Emerald / Granite Rapids', {'amx_int8': 1 / 16, 'avx512f': 2, 'fma': 2},
     'Intel 64 and IA-32 Architectures Optimization Reference Manual: AMX TMUL does 1024 '
     'int8 multiply-accumulates per cycle (one 16x16x64 tdpbusd per 16 cycles); two 512-bit '
     'FMA units'),
    (('0x41', 0xd0c, None), 'Neoverse N1', {'asimd': 2, 'asimddp': 2},
     'Arm Neoverse N1 Software Optimization Guide: two 128-bit vector pipes (fmla, sdot)'),
    (('0x41', 0xd40, None), 'Neoverse V1', {'asimd': 4, 'asimddp': 4},
     'Arm Neoverse V1 Software Optimization Guide: four 128-bit vector pipes (fmla, sdot)'),
]


def cpu_info(text):
    """Return vendor, family, model and flags of the first CPU of /proc/cpuinfo ``text``.

    On ARM the vendor is the implementer (``0x41``: Arm), the family the part number.
    """
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(':')
        fields.setdefault(key.strip(), value.strip())
    if 'vendor_id' in fields:
        return {'vendor': fields['vendor_id'], 'family': int(fields.get('cpu family', 0)),
                'model': int(fields.get('model', 0)), 'flags': fields.get('flags', '').split()}
    if 'CPU implementer' in fields:
        return {'vendor': fields['CPU implementer'],
                'family': int(fields.get('CPU part', '0'), 0), 'model': None,
                'flags': fields.get('Features', '').split()}
    raise ValueError('no x86 vendor_id or ARM CPU implementer in this cpuinfo')


def core_of(info):
    """Return ``(core name, instructions per cycle, source)`` of ``info``'s CPU, or None."""
    for (vendor, family, models), name, per_cycle, source in CORES:
        if (vendor == info['vendor'] and family == info['family'] and
                (models is None or info['model'] in models)):
            return name, per_cycle, source
    return None


def per_cycle(info):
    """Return, per precision, the instruction the CPU has and its MACs per cycle per core.

    Each precision's entry: ``flag``, ``instruction``, ``macs_per_instruction``,
    ``instructions_per_cycle`` and ``macs_per_cycle`` (None where CORES does not know this
    core: the kernel's measurement stands in then), ``core``, ``source`` and ``kernel``
    (the kernel of peak_kernel.c that runs the instruction, None where there is none).
    """
    flags = set(info['flags'])
    core = core_of(info)
    out = {}
    for flag, (precision, instruction, macs, kernel) in INSTRUCTIONS.items():
        if precision in out or flag not in flags:
            continue
        count = core[1].get(flag) if core else None
        out[precision] = {
            'flag': flag, 'instruction': instruction, 'macs_per_instruction': macs,
            'instructions_per_cycle': count,
            'macs_per_cycle': macs * count if count is not None else None,
            'core': core[0] if core else f"unknown ({info['vendor']}, family "
            f"{info['family']}, model {info['model']})",
            'source': core[2] if core and count is not None else
            'not in the table of bench/peak.py: the kernel measured it',
            'kernel': kernel}
    return out


def compile_kernel(directory):
    """Compile peak_kernel.c into ``directory``; return the program, or None without gcc."""
    compiler = shutil.which('gcc')
    if compiler is None:
        return None
    program = os.path.join(directory, 'peak_kernel')
    done = subprocess.run([compiler, '-O2', '-pthread', '-o', program, str(SOURCE)],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f'{compiler} could not compile {SOURCE}:\n{done.stderr}')
    return program


def run_kernel(program, kernel, seconds, threads):
    """Run ``kernel`` on ``threads`` threads for ``seconds`` of CPU time each.

    Return operations per second of all threads together (each thread's operations over
    its own CPU time, summed), per thread (their mean), and the threads' CPU time over
    their wall time.
    """
    out = subprocess.run([program, kernel, str(seconds), str(threads)], check=True,
                         capture_output=True, text=True).stdout
    rows = [[float(v) for v in line.split()] for line in out.splitlines()]
    if len(rows) != threads:
        raise RuntimeError(f'{program} {kernel}: expected {threads} lines, got {out!r}')
    rates = [operations / cpu for operations, cpu, _ in rows]
    return {'per_s': sum(rates), 'per_s_per_thread': sum(rates) / threads,
            'cpu_share': sum(cpu for _, cpu, _ in rows) / sum(wall for _, _, wall in rows)}


def measure(seconds=0.5, rounds=3, threads=None, cpuinfo='/proc/cpuinfo'):
    """Derive the int8 and fp32 peaks of this machine and run the kernels against them.

    ``threads``: one per physical core unless given. The clock and the kernels run in
    ``rounds`` interleaved rounds (clock, int8, fp32), ``seconds`` each; medians.
    """
    if threads is None:
        from nano_vision.ml.predictor import physical_cores
        threads = physical_cores()
    info = cpu_info(pathlib.Path(cpuinfo).read_text())
    derivation = per_cycle(info)
    out = {'cpu': {k: info[k] for k in ('vendor', 'family', 'model')}, 'cores': threads,
           'load_average': round(os.getloadavg()[0], 2),
           'how': f'clock: dependent integer adds (one per cycle); kernels: the instruction '
                  f'from registers; {rounds} interleaved round{"s" if rounds > 1 else ""} of '
                  f'{seconds} s of CPU time on '
                  f'each of {threads} threads at once, medians'}
    with tempfile.TemporaryDirectory() as tmp:
        program = compile_kernel(tmp)
        if program is None:
            out['skipped'] = 'no gcc on PATH: the clock and the kernels were not measured'
            out.update(derivation)
            return out
        kinds = {'clock': 'clock'}
        kinds.update({precision: row['kernel'] for precision, row in derivation.items()
                      if row['kernel']})
        samples = {kind: [] for kind in kinds}
        for _ in range(rounds):
            for kind, kernel in kinds.items():
                samples[kind].append(run_kernel(program, kernel, seconds, threads))
    clock = statistics.median(s['per_s_per_thread'] for s in samples['clock']) / 1e9
    out['clock_ghz'] = round(clock, 3)
    out['cpu_share'] = round(statistics.median(
        s['cpu_share'] for rows in samples.values() for s in rows), 3)
    for precision, row in derivation.items():
        row = dict(row)
        if row['kernel']:
            kernel = statistics.median(s['per_s'] for s in samples[precision]) / 1e9
            row['kernel_gmacs_per_s'] = round(kernel, 1)
            if row['macs_per_cycle'] is None:  # unknown core: the kernel says what it does
                row['instructions_per_cycle'] = round(
                    kernel / (clock * threads) / row['macs_per_instruction'], 3)
                row['macs_per_cycle'] = row['instructions_per_cycle'] * \
                    row['macs_per_instruction']
        if row['macs_per_cycle'] is not None:
            row['derived_gmacs_per_s'] = round(row['macs_per_cycle'] * clock * threads, 1)
            if 'kernel_gmacs_per_s' in row:
                row['kernel_share_of_derived'] = round(
                    row['kernel_gmacs_per_s'] / row['derived_gmacs_per_s'], 3)
        out[precision] = row
    return out


def describe(peak):
    """Return the lines that print the derivation and the kernels of ``measure()``."""
    lines = []
    if 'skipped' in peak:
        lines.append(f"peak: {peak['skipped']}")
    for precision in ('int8', 'fp32'):
        row = peak.get(precision)
        if not row:
            lines.append(f'{precision}: the CPU reports no instruction bench/peak.py knows')
            continue
        derived = row.get('derived_gmacs_per_s')
        if derived is None:
            lines.append(f"{precision}: {row['instruction']} on {row['core']}: per-cycle "
                         'throughput unknown and no kernel to measure it')
            continue
        line = (f"{precision}: {row['instruction']}, {row['macs_per_instruction']} MACs x "
                f"{row['instructions_per_cycle']:g} per cycle ({row['core']}) = "
                f"{row['macs_per_cycle']:g} per cycle per core x {peak['clock_ghz']} GHz x "
                f"{peak['cores']} cores = {derived} GMAC/s")
        if 'kernel_gmacs_per_s' in row:
            line += (f"; kernel {row['kernel']}: {row['kernel_gmacs_per_s']} GMAC/s "
                     f"({row.get('kernel_share_of_derived', 1):.0%})")
        lines.append(line)
    if 'clock_ghz' in peak:
        lines.append(f"clock under load {peak['clock_ghz']} GHz; the threads ran "
                     f"{peak['cpu_share']:.0%} of the wall time, load average "
                     f"{peak['load_average']} ({peak['how']})")
    return lines


def main():
    """Measure and print; ``--json`` prints the numbers as JSON too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=0.5,
                        help='CPU seconds per thread of each kernel run')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds')
    parser.add_argument('--threads', type=int, help='threads (default: physical cores)')
    parser.add_argument('--json', action='store_true', help='print the numbers as JSON too')
    args = parser.parse_args()
    threads = args.threads if args.threads is not None else 1
    if args.seconds <= 0 or args.rounds < 1 or threads < 1:
        parser.error('--seconds, --rounds and --threads must be positive')
    peak = measure(args.seconds, args.rounds, args.threads)
    print('\n'.join(describe(peak)))
    if args.json:
        print(json.dumps(peak, indent=2))


if __name__ == '__main__':
    main()

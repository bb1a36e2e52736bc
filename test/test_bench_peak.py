"""bench/peak.py: the derived peak of a CPU and the kernel that checks it."""

import importlib
import importlib.util
import os
import pathlib
import platform
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('bench_peak', ROOT / 'bench' / 'peak.py')
peak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peak)

needs_gcc = pytest.mark.skipif(shutil.which('gcc') is None, reason='no gcc on PATH')
needs_x86 = pytest.mark.skipif(platform.machine() not in ('x86_64', 'AMD64'),
                               reason='the vector kernels are x86')


def x86(vendor, family, model, flags):
    return (f'processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\n'
            f'model\t\t: {model}\nflags\t\t: {flags}\n\nprocessor\t: 1\n')


ZEN5 = x86('AuthenticAMD', 26, 2, 'fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx_vnni')


def test_zen5_with_avx512_vnni_does_128_int8_and_32_fp32_macs_per_cycle_per_core():
    info = peak.cpu_info(ZEN5)
    assert info == {'vendor': 'AuthenticAMD', 'family': 26, 'model': 2,
                    'flags': ZEN5.split('flags\t\t: ')[1].split('\n')[0].split()}
    rows = peak.per_cycle(info)
    assert (rows['int8']['flag'], rows['int8']['macs_per_instruction'],
            rows['int8']['instructions_per_cycle'], rows['int8']['macs_per_cycle']) == \
        ('avx512_vnni', 64, 2, 128)
    assert (rows['fp32']['flag'], rows['fp32']['macs_per_cycle']) == ('avx512f', 32)
    assert rows['int8']['kernel'] == 'int8_avx512_vnni'
    assert rows['int8']['core'].startswith('Zen 5') and '58455' in rows['int8']['source']


def test_the_best_instruction_the_flags_name_decides():
    zen4 = peak.per_cycle(peak.cpu_info(x86('AuthenticAMD', 25, 0x11,
                                            'avx2 fma avx512f avx512_vnni')))
    # 512-bit halves: one zmm instruction per cycle, as many MACs as two ymm ones
    assert (zen4['int8']['macs_per_cycle'], zen4['fp32']['macs_per_cycle']) == (64, 16)
    no_vnni = peak.per_cycle(peak.cpu_info(x86('AuthenticAMD', 26, 2, 'avx2 fma')))
    assert (no_vnni['int8']['flag'], no_vnni['int8']['macs_per_cycle']) == ('avx2', 32)
    assert (no_vnni['fp32']['flag'], no_vnni['fp32']['macs_per_cycle']) == ('fma', 16)
    amx = peak.per_cycle(peak.cpu_info(x86('GenuineIntel', 6, 0x8f,
                                           'avx2 fma avx512f avx512_vnni amx_int8')))
    assert (amx['int8']['flag'], amx['int8']['macs_per_cycle']) == ('amx_int8', 1024)
    assert amx['int8']['kernel'] is None  # no AMX kernel: the derivation stands alone
    assert peak.per_cycle(peak.cpu_info(x86('AuthenticAMD', 26, 2, 'sse2'))) == {}


def test_arm_cores_are_keyed_by_implementer_and_part():
    text = ('processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm asimddp\n'
            'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd0c\n')
    rows = peak.per_cycle(peak.cpu_info(text))
    assert (rows['int8']['flag'], rows['int8']['macs_per_cycle']) == ('asimddp', 32)
    assert (rows['fp32']['flag'], rows['fp32']['macs_per_cycle']) == ('asimd', 8)
    assert rows['int8']['core'] == 'Neoverse N1'


def test_an_unknown_core_leaves_the_per_cycle_figure_to_the_kernel():
    rows = peak.per_cycle(peak.cpu_info(x86('GenuineIntel', 6, 0x55, 'avx2 fma avx512f')))
    assert rows['int8']['macs_per_cycle'] is None and rows['fp32']['macs_per_cycle'] is None
    assert 'unknown' in rows['int8']['core'] and 'measured' in rows['int8']['source']
    with pytest.raises(ValueError, match='cpuinfo'):
        peak.cpu_info('nothing: here\n')


@needs_gcc
def test_the_kernel_compiles_and_runs_for_a_moment(tmp_path):
    program = peak.compile_kernel(str(tmp_path))
    clock = peak.run_kernel(program, 'clock', 0.01, 1)
    assert clock['per_s'] > 1e8  # any core adds a hundred million times a second
    assert 0 < clock['cpu_share'] <= 1.01
    with pytest.raises(subprocess.CalledProcessError) as error:
        peak.run_kernel(program, 'no_such_kernel', 0.01, 1)
    assert 'usage' in error.value.stderr and error.value.returncode == 2


@needs_gcc
@needs_x86
def test_measure_derives_the_peak_and_runs_the_kernel_of_each_precision(tmp_path):
    flags = peak.cpu_info(pathlib.Path('/proc/cpuinfo').read_text())['flags']
    if not {'avx2', 'fma'} <= set(flags):
        pytest.skip('the CPU has neither AVX2 nor FMA')
    known = tmp_path / 'zen5'
    known.write_text(x86('AuthenticAMD', 26, 2, ' '.join(flags)))
    out = peak.measure(seconds=0.01, rounds=1, threads=1, cpuinfo=known)
    assert out['clock_ghz'] > 0.1 and out['cores'] == 1
    for precision in ('int8', 'fp32'):
        row = out[precision]
        assert row['kernel_gmacs_per_s'] > 0
        assert row['derived_gmacs_per_s'] == pytest.approx(
            row['macs_per_cycle'] * out['clock_ghz'], rel=0.01)
        assert row['kernel_share_of_derived'] == pytest.approx(
            row['kernel_gmacs_per_s'] / row['derived_gmacs_per_s'], abs=0.001)
    text = '\n'.join(peak.describe(out))
    assert 'int8:' in text and 'GHz' in text
    # an unknown core: the kernel's throughput is the per-cycle figure, and says so
    unknown = tmp_path / 'unknown'
    unknown.write_text(x86('SomeVendor', 1, 1, ' '.join(flags)))
    out = peak.measure(seconds=0.01, rounds=1, threads=1, cpuinfo=unknown)
    row = out['int8']
    assert 'measured' in row['source']
    assert row['derived_gmacs_per_s'] == pytest.approx(row['kernel_gmacs_per_s'], rel=0.01)


def test_without_gcc_the_derivation_stays_and_the_kernels_are_skipped(monkeypatch, tmp_path):
    monkeypatch.setattr(peak.shutil, 'which', lambda name: None)
    known = tmp_path / 'zen5'
    known.write_text(ZEN5)
    out = peak.measure(seconds=0.01, rounds=1, threads=2, cpuinfo=known)
    assert 'gcc' in out['skipped'] and 'clock_ghz' not in out
    assert out['int8']['macs_per_cycle'] == 128
    assert 'no gcc' in '\n'.join(peak.describe(out))


def test_speed_reports_each_path_against_the_peak_of_its_precision(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / 'bench'))
    environment = dict(os.environ)
    try:
        speed = importlib.import_module('speed')
    finally:  # speed.py sets the DDS variables of its own runs
        os.environ.clear()
        os.environ.update(environment)
    row = {'path': '', 'latency_ms_p50': 5.0, 'fps': 200.0, 'speedup_vs_course': 1.0,
           'model_ms_p50': 4.0, 'gmacs_per_s': 400.0}
    limits = peak.per_cycle(peak.cpu_info(ZEN5))
    limits['int8']['derived_gmacs_per_s'], limits['fp32']['derived_gmacs_per_s'] = 1000.0, 250.0
    limits.update(cpu={}, clock_ghz=3.9, cores=2, cpu_share=1.0, load_average=0.1, how='given',
                  library_gemm={'fp32_gmacs_per_s': 200.0, 'int8_gmacs_per_s': 500.0,
                                'how': 'given'})
    results = {'model_only': {'ort_fp32': dict(row), 'ort_int8': dict(row)}, 'peak': limits}
    speed.report(results)
    rows = results['model_only']
    assert (rows['ort_int8']['share_of_peak'], rows['ort_fp32']['share_of_peak']) == (0.4, 1.6)
    assert (rows['ort_int8']['share_of_library_gemm'],
            rows['ort_fp32']['share_of_library_gemm']) == (0.8, 2.0)
    out = capsys.readouterr().out
    assert 'library GEMM: fp32 200.0 GMAC/s, int8 500.0 GMAC/s' in out
    assert 'int8: 1.81 ms per image at the derived peak' in out

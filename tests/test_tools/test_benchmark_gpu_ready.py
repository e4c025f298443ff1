"""The benchmark's compile rows, DINO split and FLOP utilisation, and its SDPA kernel check (issue 13).

Numbers live in docs/benchmarks.md; here only what the tool reports and how.
"""
import json

import pytest
from tests.conftest import load_tool

benchmark = load_tool('tools/analysis/benchmark.py')

RATS, TIMM = 'RATS-S/16', 'timm ViT-S/16'


@pytest.mark.parametrize('amp', [False, True], ids=['fp32', 'bf16'])
def test_sdpa_check_every_rats_path_runs_the_flash_kernel(amp):
    """On the CPU every attention path's exact tensors (strides, dtype) go to the fused flash kernel."""
    args = benchmark.parse_args(['--device', 'cpu'] + (['--amp'] if amp else []))
    rows = benchmark.sdpa_check(['RATS-S/16 + parallel', 'ViT-S/16 (mmrats mhsa)'], args)
    paths = {(r['model'], r['crop'], r['path']): r for r in rows}
    assert set(paths) == {(m, c, p) for c in (224, 96) for m, p in
                          [('RATS-S/16 + parallel', 'compress'), ('RATS-S/16 + parallel', 'communicate'),
                           ('RATS-S/16 + parallel', 'broadcast'), ('RATS-S/16 + parallel', 'parallel'),
                           ('ViT-S/16 (mmrats mhsa)', 'attention')]}
    for r in rows:
        assert r['kernel'] == '_scaled_dot_product_flash_attention_for_cpu', r
        assert r['accepts']['flash'] and r['accepts']['math'] and not r['accepts']['efficient'], r
        assert r['dtype'] == ('torch.bfloat16' if amp else 'torch.float32')
    # registers: 16 per head queries over 36 patches of a 96 crop; patches over the 16 registers
    assert paths[(('RATS-S/16 + parallel'), 96, 'compress')]['q'] == [2, 6, 16, 64]
    assert paths[(('RATS-S/16 + parallel'), 96, 'broadcast')]['k'] == [2, 6, 16, 64]


def test_compiled_rows_and_their_own_reference(tmp_path):
    assert benchmark.main(['--device', 'cpu', '--resolutions', '32', '--models', TIMM, RATS, '--no-dino',
                           '--repeats', '1', '--batch', '32=1', '--compile', '--compile-backend', 'eager',
                           '--amp', '--no-flops', '--out-dir', str(tmp_path)]) == 0
    data = json.loads((tmp_path / 'benchmark_cpu.json').read_text())
    rows = {r['model']: r for r in data['rows']}
    assert set(rows) == {TIMM, RATS, TIMM + ' [compiled]', RATS + ' [compiled]'}
    assert rows[TIMM + ' [compiled]']['compiled'] and not rows[RATS]['compiled']
    assert rows[TIMM + ' [compiled]']['speedup_vs_ref'] == 1.0  # compiled rows: against the compiled timm
    r = rows[RATS + ' [compiled]']
    assert r['time_vs_ref'] == pytest.approx(r['fwdbwd_s'] / rows[TIMM + ' [compiled]']['fwdbwd_s'])
    assert data['env']['amp'] and 'bf16 autocast' in (tmp_path / 'benchmark_cpu.md').read_text()


def test_dino_split_flops_and_utilisation(tmp_path):
    assert benchmark.main(['--device', 'cpu', '--resolutions', '--models', TIMM, RATS, '--dino-split',
                           '--repeats', '1', '--batch', 'dino=1', '--peak-tflops', '2.0',
                           '--out-dir', str(tmp_path)]) == 0
    data = json.loads((tmp_path / 'benchmark_cpu.json').read_text())
    rows = {(r['section'], r['model']): r for r in data['rows']}
    sections = [benchmark.DINO, benchmark.DINO_LOCAL, benchmark.DINO_GLOBAL, benchmark.DINO_TEACHER]
    assert set(rows) == {(s, m) for s in sections for m in (TIMM, RATS)}
    for m in (TIMM, RATS):
        step = rows[(benchmark.DINO, m)]
        # student forward + backward (about 3 forwards) + the teacher on the global crops (< 1 forward)
        assert 3 * step['gflops'] < 1e3 * step['step_tflop_per_img'] < 4 * step['gflops']
        assert step['achieved_tflops'] == pytest.approx(step['step_tflop_per_img'] / step['fwdbwd_s'])
        assert step['mfu'] == pytest.approx(step['achieved_tflops'] / 2.0)
        assert len(step['fwdbwd_all_s']) == 1 and step['fwdbwd_min_s'] <= step['fwdbwd_s']
    md = (tmp_path / 'benchmark_cpu.md').read_text()
    assert '| DINO step | batch |' in md and f'| {benchmark.DINO_LOCAL} | {RATS} | 1 |' in md
    # the step by its parts: the three rows timed alone, their sum and what the step costs beyond it
    for p in data['dino_parts']:
        local, glob, teacher = (rows[(s, p['model'])]['fwdbwd_s'] for s in sections[1:])
        assert p['parts_s'] == pytest.approx(local + glob + teacher)
        assert p['rest_s'] == pytest.approx(rows[(benchmark.DINO, p['model'])]['fwdbwd_s'] - p['parts_s'])
        assert p['step_faults'] == rows[(benchmark.DINO, p['model'])]['minor_faults'] >= 0
    assert [p['model'] for p in data['dino_parts']] == [TIMM, RATS]
    assert '| DINO step by its parts |' in md and f'| {RATS} | ' in md

"""The benchmark tool's behaviour (its numbers live in docs/benchmarks.md, not in tests)."""
import json

import pytest
from tests.conftest import load_tool

benchmark = load_tool('tools/analysis/benchmark.py')


def test_benchmark_writes_table_and_json(tmp_path, capsys):
    assert benchmark.main(['--device', 'cpu', '--resolutions', '32', '--models', 'timm ViT-S/16', 'RATS-S/16',
                           '--repeats', '1', '--batch', '32=1', 'dino=1', '--out-dir', str(tmp_path)]) == 0
    data = json.loads((tmp_path / 'benchmark_cpu.json').read_text())
    rows = {(r['section'], r['model']): r for r in data['rows']}
    assert set(rows) == {('32x32', 'timm ViT-S/16'), ('32x32', 'RATS-S/16'),
                         ('DINO step 2x224+10x96', 'timm ViT-S/16'), ('DINO step 2x224+10x96', 'RATS-S/16')}
    ref, rats = rows[('32x32', 'timm ViT-S/16')], rows[('32x32', 'RATS-S/16')]
    # pos_embed stored for a 2x2 grid instead of 14x14: 192 fewer entries of width 384
    assert ref['speedup_vs_ref'] == 1.0 and ref['params'] == 21_665_664 - 192 * 384
    assert rats['params'] == 21_701_760 - 192 * 384
    assert all(r['fwdbwd_s'] > 0 and r['peak_mem_fwdbwd_mb'] > 0 and r['gflops'] > 0 for r in rows.values())
    # RATS does more work than ViT on tiny inputs: 8 registers per head vs 4 patches
    assert rats['gflops'] > ref['gflops']
    assert [t['target'] for t in data['targets']] == ['DINO multi-crop step time vs ViT-S/16']
    md = (tmp_path / 'benchmark_cpu.md').read_text()
    assert '| 32x32 | RATS-S/16 | 1 |' in md and md in capsys.readouterr().out


def test_benchmark_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--resolutions', '100'])
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--batch', '512'])

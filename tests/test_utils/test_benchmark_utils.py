"""mmrats.utils.benchmark: the pieces of tools/analysis/benchmark.py the tool tests do not reach one by one."""
import pytest
import torch
from torch import nn

from mmrats.models import RATSViT
from mmrats.utils.benchmark import (COMPILED, Case, add_ratios, count_flops, peak_memory, profile_table, run_cases,
                                    time_interleaved, tokens)


@pytest.mark.parametrize('mode,glob', [('rats', 'registers'), ('mhsa', 'cls_token')])
def test_tokens_read_the_global_representation_once_defined(mode, glob):
    model = RATSViT(arch='tiny', mode=mode, img_size=32, patch_size=8).eval()
    x = torch.randn(2, 3, 32, 32)
    t, f = tokens(model, x), model.forward_features(x)
    want = f['registers'].mean(1) if glob == 'registers' else f['cls_token']
    torch.testing.assert_close(t['glob'], want)
    torch.testing.assert_close(t['patches'], f['patch_tokens'])


def test_tokens_of_a_timm_like_backbone_take_cls_first():
    class Timm(nn.Module):
        def forward_features(self, x):
            return x
    x = torch.randn(2, 5, 3)
    t = tokens(Timm(), x)
    assert torch.equal(t['glob'], x[:, 0]) and torch.equal(t['patches'], x[:, 1:])


def test_time_interleaved_runs_a_warm_up_round_then_the_repeats_in_turn():
    order = []
    steps = {'a': lambda: order.append('a'), 'b': lambda: order.append('b')}
    times = time_interleaved(steps, 'cpu', 2)
    assert order == ['a', 'b'] * 3 and all(len(v) == 2 and min(v) >= 0 for v in times.values())


def test_peak_memory_on_the_cpu_sees_the_live_tensors():
    def step():
        a = torch.ones(1 << 20)  # 4 MiB
        b = torch.ones(1 << 20)
        del a, b
    assert 8 * 2**20 <= peak_memory(step, 'cpu') < 9 * 2**20


def test_count_flops_counts_the_matmuls_and_restores_fused_attention():
    model = RATSViT(arch='tiny', mode='mhsa', img_size=32, patch_size=8)
    assert model.blocks[0].attn.fused
    lin = nn.Linear(8, 4, bias=False)
    assert count_flops(model, lambda: lin(torch.randn(3, 8))) == 2 * 3 * 8 * 4
    assert model.blocks[0].attn.fused


def test_profile_table_names_the_ops():
    table = profile_table(lambda: torch.randn(16, 16) @ torch.randn(16, 16), top=5)
    assert 'aten::mm' in table and 'Self CPU' in table


def test_run_cases_and_ratios_to_the_reference():
    def case(name, section='s'):
        return Case(section, name, 2, 10, None, lambda: None, None, step_tflop=1.0)
    rows = run_cases([case('ref'), case('m'), case('ref' + COMPILED), case('m', 'other')], 'cpu', 1, peak_tflops=4.0)
    assert [r['compiled'] for r in rows] == [False, False, True, False]
    assert rows[0]['fwd_s'] is None and rows[0]['mfu'] == pytest.approx(rows[0]['achieved_tflops'] / 4.0)
    for r in rows:
        r['fwdbwd_s'] = r['fwdbwd_min_s'] = 2.0 if r['model'] == 'm' else 1.0
        r['peak_mem_fwdbwd_mb'] = 3.0 if r['model'] == 'm' else 1.0
    add_ratios(rows, 'ref')
    assert rows[1]['speedup_vs_ref'] == 0.5 and rows[1]['mem_vs_ref'] == 3.0 and rows[1]['time_vs_ref_min'] == 2.0
    assert rows[2]['time_vs_ref'] == 1.0  # the compiled reference is its own reference
    assert 'time_vs_ref' not in rows[3]  # no reference in that section

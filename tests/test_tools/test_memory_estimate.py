"""tools/analysis/memory_estimate.py and mmrats.utils.benchmark.memory: the predicted peak of a DINO iteration."""
import json

import pytest
import torch
from mmengine.config import Config

from mmrats.utils.benchmark import peak_memory
from mmrats.utils.benchmark.memory import dino_step, predict_dino_memory, train_dtype, view_sizes
from tests.conftest import REPO, load_tool

tool = load_tool('tools/analysis/memory_estimate.py')
LAB = str(REPO / 'configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py')
TINY = ['model.backbone.arch.embed_dims=32', 'model.backbone.arch.num_layers=2', 'model.backbone.arch.num_heads=2',
        'model.backbone.arch.num_registers=4', 'model.neck.in_channels=32', 'model.neck.hidden_channels=64',
        'model.neck.bottleneck_channels=16']


def tiny_model(with_cp=False):
    cfg = Config.fromfile(LAB)
    cfg.merge_from_dict({k: int(v) for k, v in (o.split('=') for o in TINY)})
    return cfg, tool.build_model(cfg, with_cp, 'cpu')


def test_real_configs_views_and_dtype():
    cfg = Config.fromfile(str(REPO / 'configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py'))
    assert view_sizes(cfg) == [224, 224] + [96] * 10
    assert train_dtype(cfg, 'cuda') is torch.bfloat16
    assert train_dtype(Config.fromfile(LAB), 'cuda') is None  # the lab trains in float32
    seg = Config.fromfile(str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py'))
    with pytest.raises(ValueError, match='no MultiView'):
        view_sizes(seg)


def test_prediction_is_the_measured_peak_at_another_batch():
    cfg, model = tiny_model()
    sizes = view_sizes(cfg)
    pred = predict_dino_memory(model, sizes, batch=6, dtype=None, measure_batches=(1, 2))
    measured = peak_memory(dino_step(model, sizes, 6, None, 'cpu'), 'cpu')
    # what the step itself allocates at batch 6, predicted from batches 1 and 2: within 10 %, or above by at most the
    # gradients (counted in full: the peak may come before all of them exist)
    step = pred.activations + pred.workspace + pred.grads
    assert 0.9 * measured <= step <= 1.1 * measured + pred.grads
    # the counted parts: float32 weights of student and teacher, AdamW's 2 moments and DDP's buckets of the student
    n_teacher = sum(p.numel() for p in model.teacher.parameters())
    n_all = sum(p.numel() for p in model.parameters())
    assert (pred.teacher_params, pred.student_params) == (n_teacher, n_all - n_teacher)
    assert pred.weights == 4 * n_all and pred.adamw == 8 * (n_all - n_teacher) == 2 * pred.ddp_buckets
    assert pred.grads == pred.ddp_buckets
    assert pred.peak == pred.weights + pred.grads + pred.adamw + pred.ddp_buckets + pred.workspace + 6 * pred.per_sample
    assert pred.fits(80) and not pred.fits(pred.peak / 2 ** 30)
    # the memory of batch 6 and a half + the 2 GiB headroom: batch 6 is the largest that fits
    assert pred.max_batch((pred.peak + pred.per_sample // 2) / 2 ** 30 + 2.0) == 6


def test_checkpointing_lowers_the_activations_per_sample():
    cfg, plain = tiny_model(False)
    _, cp = tiny_model(True)
    sizes = view_sizes(cfg)
    a = predict_dino_memory(plain, sizes, 32, None)
    b = predict_dino_memory(cp, sizes, 32, None)
    assert b.with_cp and not a.with_cp
    assert b.per_sample < 0.8 * a.per_sample


def test_tool_writes_the_table(tmp_path, capsys):
    out = tmp_path / 'mem'
    assert tool.main([LAB, '--cfg-options', *TINY, '--out-dir', str(out)]) == 0
    rows = json.loads((out / 'memory_estimate.json').read_text())['rows']
    assert [r['with_cp'] for r in rows] == [False, True] and all(r['batch'] == 32 for r in rows)
    assert all(r['fits'] for r in rows) and rows[0]['views'] == [64, 64, 32, 32, 32, 32]
    table = (out / 'memory_estimate.md').read_text()
    assert table.count('| dino_rats-lab_1xb32-2e_part-objects-64.py | 32 | float32 |') == 2
    assert 'predicted' in capsys.readouterr().out


def test_bad_input_is_one_line(tmp_path, capsys):
    assert tool.main([str(tmp_path / 'missing.py'), '--out-dir', str(tmp_path)]) == 2
    assert "config file '" in capsys.readouterr().err
    seg = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')
    assert tool.main([seg, '--out-dir', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'no MultiView' in err and 'Traceback' not in err

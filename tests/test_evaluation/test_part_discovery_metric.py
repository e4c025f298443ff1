"""mmrats.PartDiscoveryMetric through DINO's validation step equals tools/analysis/part_segmentation.py."""
import json

import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.evaluator import Evaluator

from mmrats.datasets.part_objects import PartObjectsConfig
from mmrats.datasets.part_objects_dataset import PartObjectsDataset
from mmrats.datasets.part_objects_writer import write_part_objects
from mmrats.evaluation.metrics import PartDiscoveryMetric
from mmrats.registry import METRICS, MODELS
from tests.conftest import load_tool

tool = load_tool('tools/analysis/part_segmentation.py')

ARCH = dict(embed_dims=64, num_heads=4, num_layers=2, num_registers=16)
PRE = dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
           to_rgb=True)


def dino(mode: str, **backbone) -> torch.nn.Module:
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='mmrats.DINO', data_preprocessor=PRE,
        backbone=dict(type='mmrats.RATSViT', arch=ARCH, mode=mode, img_size=64, **backbone),
        neck=dict(type='mmrats.DINONeck', in_channels=64, out_channels=16, hidden_channels=32,
                  bottleneck_channels=16),
        head=dict(type='mmrats.DINOHead', out_channels=16)))
    model.init_weights()
    for p in model.teacher.parameters():  # a teacher that differs from the student: predict must use it
        p.data.add_(0.05 * torch.randn_like(p))
    return model.eval()


def metric_scores(model, top_k) -> dict:
    ds = PartObjectsDataset(num_images=6, split='test', seed=1, img_size=64,
                            pipeline=[dict(type='PackInputs', algorithm_keys=['gt_part_label'])])
    evaluator = Evaluator(METRICS.build(dict(type='mmrats.PartDiscoveryMetric', top_k=top_k)))
    for start in (0, 4):
        batch = default_collate([ds[i] for i in range(start, min(start + 4, len(ds)))])
        evaluator.process(model.val_step(batch), batch)
    return evaluator.evaluate(len(ds))


@pytest.mark.parametrize('mode,backbone,method',
                         [('rats', {}, 'registers'), ('mhsa', dict(num_registers=0), 'cls-attn')])
def test_metric_equals_the_tool(tmp_path, mode, backbone, method):
    """Same images (written PNGs vs drawn in memory), same teacher weights: the same M2O / O2O / ARI."""
    model = dino(mode, **backbone)
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=model.teacher.backbone.state_dict()), ckpt)
    write_part_objects(tmp_path / 'po', dict(test=6), seed=1, cfg=PartObjectsConfig(img_size=64), ade=False)
    out = tmp_path / 'tool'
    assert tool.main(['--dataset-type', 'partimagenet', '--data-root', str(tmp_path / 'po'), '--split', 'test',
                      '--arch', json.dumps(ARCH), '--mode', mode, *(['--num-registers', '0'] if mode == 'mhsa' else []),
                      '--checkpoint', str(ckpt), '--img-size', '64', '--top-k', '3', '--sweep', '--sweep-sizes', '64',
                      '--sweep-top-k', '8', '--batch-size', '4', '--device', 'cpu', '--out-dir', str(out)]) == 0
    res = json.loads((out / 'results.json').read_text())
    assert res['model']['method'] == method
    expect = res['datasets']['PartImageNet']
    got = metric_scores(model, [3, 8])
    for m in ('m2o', 'o2o', 'ari'):
        assert got[f'parts/{m}'] == pytest.approx(expect[m], abs=1e-4)
        assert got[f'parts/{m}_top3'] == got[f'parts/{m}']
        assert got[f'parts/{m}_top8'] == pytest.approx(res['sweep']['top_k']['curves']['PartImageNet'][m][1], abs=1e-4)


def test_student_and_errors():
    model = dino('rats')
    model.predict_backbone = 'student'
    assert metric_scores(model, 3) != metric_scores(dino('rats'), 3)  # the teacher differs from the student
    with pytest.raises(KeyError, match='gt_part_label'):
        PartDiscoveryMetric().process({}, [dict(part_maps=torch.zeros(2, 4, 4))])
    with pytest.raises(ValueError, match='top_k'):
        PartDiscoveryMetric(top_k=[0])
    with pytest.raises(ValueError, match='predict_backbone'):
        MODELS.build(dict(type='mmrats.DINO', backbone=dict(type='mmrats.RATSViT', arch='tiny'),
                          neck=dict(type='mmrats.DINONeck', in_channels=64, out_channels=8),
                          head=dict(type='mmrats.DINOHead', out_channels=8), predict_backbone='ema'))

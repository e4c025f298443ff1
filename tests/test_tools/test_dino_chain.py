"""The DINO chain on the demo data: pretrain (tools/train.py) -> extract the teacher
(tools/model_converters/dino2backbone.py) -> fine-tune the Mask2Former demo from it."""
import json

import pytest
import torch

from mmrats.apis import load_backbone
from mmrats.datasets.sample_photos import write_sample_photos
from mmrats.datasets.synthetic_scenes import write_dataset
from mmrats.models import RATSViT
from tests.conftest import REPO, free_port, load_tool

train_tool = load_tool('tools/train.py')
dino2backbone = load_tool('tools/model_converters/dino2backbone.py')

DINO = str(REPO / 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py')
SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')


def test_pretrain_extract_finetune(tmp_path):
    photos, scenes = tmp_path / 'photos', tmp_path / 'scenes'
    write_sample_photos(str(photos), max_side=128)
    write_dataset(str(scenes), num_train=4, num_val=2, size=128)
    pre = tmp_path / 'pretrain'
    assert train_tool.main([DINO, '--work-dir', str(pre), '--cfg-options',
                            f'train_dataloader.dataset.dataset.data_root={photos}', 'train_dataloader.batch_size=4',
                            'train_dataloader.dataset.times=1', 'train_dataloader.num_workers=0',
                            'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1']) == 0
    ckpt = pre / 'epoch_1.pth'
    assert ckpt.exists()

    backbone, finetune = tmp_path / 'teacher.pth', tmp_path / 'teacher_ft.pth'
    assert dino2backbone.main([str(ckpt), str(backbone)]) == 0
    assert dino2backbone.main([str(ckpt), str(finetune), '--finetune']) == 0
    assert dino2backbone.main([str(ckpt), str(finetune), '--finetune']) == 2  # never overwrites
    # the extracted backbone is the teacher, not the student
    full = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    out = torch.load(backbone, map_location='cpu', weights_only=True)
    assert torch.equal(out['state_dict']['registers'], full['teacher.backbone.registers'])
    assert not torch.equal(full['teacher.backbone.registers'], full['backbone.registers'])
    rats = RATSViT(**{k: v for k, v in out['meta']['backbone'].items() if k != 'type'})
    rats.load_state_dict(out['state_dict'], strict=True)
    ft = torch.load(finetune, map_location='cpu', weights_only=True)
    assert ft['meta']['backbone']['parallel_branch'] and any('parallel_proj' in k for k in ft['state_dict'])

    seg = tmp_path / 'seg'
    assert train_tool.main([SEG, '--work-dir', str(seg), '--cfg-options',
                            'model.backbone.init_cfg._delete_=True', 'model.backbone.init_cfg.type=Pretrained',
                            f'model.backbone.init_cfg.checkpoint={finetune}',
                            *[f'{s}_dataloader.dataset.data_root={scenes}/ade' for s in ('train', 'val', 'test')],
                            'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'train_dataloader.batch_size=2',
                            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
                            'default_hooks.checkpoint.interval=2', 'optim_wrapper.optimizer.lr=0.0']) == 0
    # with lr 0 the fine-tuned backbone keeps the extracted teacher's weights: they were loaded
    tuned = torch.load(seg / 'iter_2.pth', map_location='cpu', weights_only=True)['state_dict']
    for key in ('registers', 'blocks.0.attn.qkv.weight', 'blocks.3.attn.parallel_proj.weight'):
        assert torch.equal(tuned[f'backbone.{key}'], ft['state_dict'][key]), key
    # mmrats.apis reads each file the chain wrote, its architecture from the file itself
    for which, prefix in (('teacher', 'teacher.backbone.'), ('student', 'backbone.')):
        got = load_backbone(ckpt, which=which).state_dict()
        assert got.keys() == out['state_dict'].keys() and all(torch.equal(v, full[prefix + k]) for k, v in got.items())
    assert all(torch.equal(v, out['state_dict'][k]) for k, v in load_backbone(backbone).state_dict().items())
    tuned_bb = load_backbone(seg / 'iter_2.pth')  # an mmseg checkpoint: the backbone of its model
    assert tuned_bb.parallel_branch and torch.equal(tuned_bb.state_dict()['registers'], tuned['backbone.registers'])


def test_extract_errors(tmp_path):
    assert dino2backbone.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')]) == 2
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}), tmp_path / 'plain.pth')
    assert dino2backbone.main([str(tmp_path / 'plain.pth'), str(tmp_path / 'o.pth')]) == 2


def test_dino_demo_driver(tmp_path):
    dino_demo = load_tool('tools/demo/dino_demo.py')
    scenes = tmp_path / 'scenes'
    write_dataset(str(scenes), num_train=2, num_val=3, size=64)
    wd = tmp_path / 'demo'
    assert dino_demo.main(['--models', 'rats', '--epochs', '1', '--no-finetune', '--photos', str(tmp_path / 'photos'),
                           '--scenes', str(scenes), '--work-dir', str(wd)]) == 0
    res = json.loads((wd / 'dino_demo_results.json').read_text())
    pre = res['pretrain']['rats']
    first = pre['first_epoch']
    # the first-epoch row is the mean of this run's logged losses
    logged = [json.loads(line) for p in (wd / 'rats').glob('*/vis_data/scalars.json')
              for line in p.read_text().splitlines()]
    losses = [r['loss'] for r in logged if r.get('epoch') == 1 and 'loss' in r]
    assert first['epoch'] == 1 and losses and first['loss'] == pytest.approx(sum(losses) / len(losses))
    # the extracted backbone is the pretraining checkpoint's teacher
    full = torch.load(pre['checkpoint'], map_location='cpu', weights_only=True)['state_dict']
    for name in ('rats_teacher_backbone.pth', 'rats_teacher_backbone_finetune.pth'):
        out = torch.load(wd / name, map_location='cpu', weights_only=True)['state_dict']
        assert torch.equal(out['registers'], full['teacher.backbone.registers']), name
    # part discovery ran on the pretrained weights: other scores than the untrained backbone's
    parts = {r['name']: r for r in res['parts']}
    assert list(parts) == ['rats (DINO demo)', 'rats (untrained)']
    scores = [tuple(parts[n][k] for k in ('m2o', 'o2o', 'ari')) for n in parts]
    assert scores[0] != scores[1] and all(0 <= v <= 100 for v in scores[0][:2] + scores[1][:2])


def test_two_process_dino_pretraining(tmp_path):
    """torchrun, 2 CPU processes (gloo): the hooks unwrap the DDP model; the center is all-reduced: after
    every update both ranks hold the same center, the EMA of the mean of the two ranks' batch means."""
    import os
    import subprocess
    import sys

    from mmengine.config import Config
    photos, wd = tmp_path / 'photos', tmp_path / 'dist'
    write_sample_photos(str(photos), max_side=128)
    cfg = Config.fromfile(DINO)  # the demo config plus a hook recording every rank's center updates
    cfg.custom_imports = dict(imports=['mmrats', 'tests.test_tools.dino_center_probe'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='DINOCenterProbeHook'))
    cfg.dump(str(tmp_path / 'dino_probe.py'))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={free_port()}',
           str(REPO / 'tools/train.py'), str(tmp_path / 'dino_probe.py'), '--launcher', 'pytorch',
           '--work-dir', str(wd),
           '--cfg-options', f'train_dataloader.dataset.dataset.data_root={photos}', 'train_dataloader.batch_size=4',
           'train_dataloader.dataset.times=1', 'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
           'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=str(REPO))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    log = next(wd.glob('*/*.log')).read_text()
    # momentum / teacher_temp are logged by DINOTeacherHook right after its EMA update: the hook found the
    # DINO model inside the DDP wrapper
    assert 'Distributed training: True' in log and 'teacher_temp: 0.0100' in log and 'momentum: ' in log
    ranks = [torch.load(wd / f'center_rank{r}.pt', map_location='cpu', weights_only=True) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2  # 17 photos, 2 ranks x batch 4, drop_last: 2 iterations
    for step, (r0, r1) in enumerate(zip(*ranks)):
        assert not torch.equal(r0['local'], r1['local']), 'the two ranks saw the same images'
        assert torch.equal(r0['after'], r1['after']), f'the ranks hold different centers after update {step}'
        m = r0['momentum']
        expected = r0['before'] * m + (r0['local'] + r1['local']) / 2 * (1 - m)
        torch.testing.assert_close(r0['after'], expected, rtol=0, atol=1e-6)
        rank_local = r0['before'] * m + r0['local'] * (1 - m)
        assert (rank_local - expected).abs().max() > 1e-3  # control: a rank-local center would differ
    sd = torch.load(wd / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']
    assert not any(k.startswith('module.') for k in sd)  # saved unwrapped
    assert torch.equal(sd['head.center'], ranks[0][-1]['after'])


def test_demo_epoch_means_read_one_run_only(tmp_path):
    from mmrats.apis.runs import scalars
    for run, loss in (('20260101_000000', 9.0), ('20260101_000100', 1.0)):  # an old run and the new one
        d = tmp_path / run / 'vis_data'
        d.mkdir(parents=True)
        rows = [dict(epoch=e, iter=i, loss=loss + e, teacher_entropy=0.5, teacher_kl_uniform=2.0)
                for e in (1, 2) for i in range(2)]
        (d / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows))
    means, _ = scalars([str(tmp_path / '20260101_000100')])
    assert [m['loss'] for m in means] == [2.0, 3.0]

"""The DINO chain on the demo data: pretrain (tools/train.py) -> extract the teacher
(tools/model_converters/dino2backbone.py) -> fine-tune the Mask2Former demo from it."""
import json

import torch

from mmrats.datasets.sample_photos import write_sample_photos
from mmrats.datasets.synthetic_scenes import write_dataset
from mmrats.models import RATSViT
from tests.conftest import REPO
from tools import train as train_tool
from tools.model_converters import dino2backbone

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


def test_extract_errors(tmp_path):
    assert dino2backbone.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')]) == 2
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}), tmp_path / 'plain.pth')
    assert dino2backbone.main([str(tmp_path / 'plain.pth'), str(tmp_path / 'o.pth')]) == 2


def test_dino_demo_driver(tmp_path):
    from tools.demo import dino_demo
    scenes = tmp_path / 'scenes'
    write_dataset(str(scenes), num_train=2, num_val=3, size=64)
    wd = tmp_path / 'demo'
    assert dino_demo.main(['--models', 'rats', '--epochs', '1', '--no-finetune', '--photos', str(tmp_path / 'photos'),
                           '--scenes', str(scenes), '--work-dir', str(wd)]) == 0
    res = json.loads((wd / 'dino_demo_results.json').read_text())
    first = res['pretrain']['rats']['first_epoch']
    assert first['epoch'] == 1 and first['loss'] > 0 and 0 < first['teacher_entropy']
    names = [r['name'] for r in res['parts']]
    assert names == ['rats (DINO demo)', 'rats (untrained)']
    assert all(0 <= r['m2o'] <= 100 for r in res['parts'])
    assert (wd / 'rats_teacher_backbone_finetune.pth').exists()


def test_two_process_dino_pretraining(tmp_path):
    """torchrun, 2 CPU processes (gloo): the hooks unwrap the DDP model; the center is all-reduced."""
    import os
    import subprocess
    import sys
    photos = tmp_path / 'photos'
    write_sample_photos(str(photos), max_side=128)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_port=29531',
           str(REPO / 'tools/train.py'), DINO, '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'dist'),
           '--cfg-options', f'train_dataloader.dataset.dataset.data_root={photos}', 'train_dataloader.batch_size=4',
           'train_dataloader.dataset.times=1', 'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
           'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=str(REPO))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    log = next((tmp_path / 'dist').glob('*/*.log')).read_text()
    # momentum / teacher_temp are logged by DINOTeacherHook right after its EMA update: the hook found the
    # DINO model inside the DDP wrapper
    assert 'Distributed training: True' in log and 'teacher_temp: 0.0100' in log and 'momentum: ' in log
    ckpt = torch.load(tmp_path / 'dist' / 'epoch_1.pth', map_location='cpu', weights_only=True)
    sd = ckpt['state_dict']
    assert not any(k.startswith('module.') for k in sd)  # saved unwrapped
    assert sd['head.center'].abs().sum() > 0  # the center was updated (all-reduced over the 2 ranks)


def test_demo_epoch_means_read_one_run_only(tmp_path):
    from tools.demo.dino_demo import epoch_means
    for run, loss in (('20260101_000000', 9.0), ('20260101_000100', 1.0)):  # an old run and the new one
        d = tmp_path / run / 'vis_data'
        d.mkdir(parents=True)
        rows = [dict(epoch=e, iter=i, loss=loss + e, teacher_entropy=0.5, teacher_kl_uniform=2.0)
                for e in (1, 2) for i in range(2)]
        (d / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows))
    means = epoch_means(str(tmp_path / '20260101_000100'))
    assert [m['loss'] for m in means] == [2.0, 3.0]

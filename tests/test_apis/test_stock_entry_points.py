"""The stock OpenMMLab entry points on our configs and on checkpoints written by tools/train.py.

Each check runs one code block of docs/downstream.md ("Inference with the stock inferencers") as it stands
there, with its ``config``, ``checkpoint``, ``image`` and ``out_dir`` replaced, in a fresh interpreter that
imports only the toolbox's API, never ``mmrats``, as a user's script would: the config's ``custom_imports``
brings mmrats in (its registries and the torch >= 2.6 checkpoint allow-list) before anything reads the
checkpoint. The checkpoints are tiny (1 iteration of the demo configs on a few synthetic scenes, 1 DINO
iteration on 4 sample photos) and shared by the module.
"""
import re
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO, load_tool, write_scenes

train_tool = load_tool('tools/train.py')

SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')
DET = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-coco-128x128.py')
DINO = str(REPO / 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py')
NO_WORKERS = [f'{split}_dataloader.{k}' for split in ('train', 'val', 'test')
              for k in ('num_workers=0', 'persistent_workers=False')]


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory, num_train=2, num_val=1)


def train_one_iteration(config, root, work_dir):
    """tools/train.py, 1 iteration (and the end-of-training validation on the 1 validation image)."""
    data = f'{root}/ade' if config == SEG else f'{root}/coco/'
    ann = [] if config == SEG else [f'{s}_evaluator.ann_file={root}/coco/annotations/instances_val2017.json'
                                    for s in ('val', 'test')]
    assert train_tool.main([config, '--work-dir', str(work_dir), '--cfg-options', *ann, *NO_WORKERS,
                            *[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
                            'train_cfg.max_iters=1', 'train_cfg.val_interval=1', 'train_dataloader.batch_size=2',
                            'default_hooks.checkpoint.interval=1']) == 0
    ckpt = work_dir / 'iter_1.pth'
    assert ckpt.exists()
    return ckpt


@pytest.fixture(scope='module')
def seg_ckpt(scenes, tmp_path_factory):
    return train_one_iteration(SEG, scenes, tmp_path_factory.mktemp('seg'))


@pytest.fixture(scope='module')
def det_ckpt(scenes, tmp_path_factory):
    return train_one_iteration(DET, scenes, tmp_path_factory.mktemp('det'))


@pytest.fixture(scope='module')
def dino_ckpt(tmp_path_factory):
    from mmrats.datasets.sample_photos import write_sample_photos
    photos, work_dir = tmp_path_factory.mktemp('photos'), tmp_path_factory.mktemp('dino')
    write_sample_photos(str(photos), max_side=96)
    assert train_tool.main([DINO, '--work-dir', str(work_dir), '--cfg-options',
                            f'train_dataloader.dataset.dataset.data_root={photos}',
                            'train_dataloader.dataset.dataset.indices=4', 'train_dataloader.dataset.times=1',
                            'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
                            'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
                            'default_hooks.checkpoint.interval=1']) == 0
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.exists()
    return ckpt


SECTION = '## Inference with the stock inferencers'


def doc_block(api: str) -> str:
    """The python block of the docs section that calls ``api``."""
    text = (REPO / 'docs/downstream.md').read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index('\n## ', len(SECTION))]
    (block,) = [b for b in re.findall(r'```python\n(.*?)```', section, re.S) if f'{api}(' in b]
    return block


def run_doc_block(api: str, cwd, check: str, **paths) -> dict:
    """Run the docs' block of ``api`` with ``paths`` as its variables, then ``check``, which prints one
    ``RESULT <python literal>`` line, in a new interpreter (the venv's python, working directory ``cwd``,
    outside the repository); returns that literal."""
    code = doc_block(api)
    for name, value in paths.items():
        code, n = re.subn(rf"^{name} = '[^']*'$", f'{name} = {str(value)!r}', code, flags=re.M)
        assert n == 1, f'the docs block of {api} sets {name} = ... once, on a line of its own'
    code = 'import sys\nassert "mmrats" not in sys.modules\n' + code + check
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, cwd=str(cwd))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-6000:]
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
    return eval(line[len('RESULT '):])


def image(root, task):
    folder = root / ('ade/images/validation' if task == 'seg' else 'coco/val2017')
    return str(sorted(folder.glob('*.jpg'))[0])


def param_sum(ckpt, key) -> float:
    return float(torch.load(ckpt, map_location='cpu')['state_dict'][key].double().sum())


def test_mmseg_inferencer(scenes, seg_ckpt, tmp_path):
    img, out_dir = image(scenes, 'seg'), tmp_path / 'out'
    res = run_doc_block('MMSegInferencer', tmp_path, """
pred = result['predictions']
print('RESULT', dict(shape=pred.shape, max=int(pred.max()), classes=inferencer.model.dataset_meta['classes'],
                     mmrats='mmrats' in sys.modules))
""", config=SEG, checkpoint=seg_ckpt, image=img, out_dir=out_dir)
    assert res['shape'] == (128, 128) and 0 <= res['max'] < 7
    assert len(res['classes']) == 7 and res['mmrats']  # the checkpoint's classes; mmrats came from the config
    assert (out_dir / 'vis' / img.rsplit('/', 1)[1]).is_file()  # the image with the prediction
    assert (out_dir / 'pred' / '00000000_pred.png').is_file()  # the label map (mmseg numbers them)


def test_mmseg_init_model_and_inference_model(scenes, seg_ckpt, tmp_path):
    res = run_doc_block('init_model', tmp_path, """
print('RESULT', dict(shape=tuple(result.pred_sem_seg.data.shape),
                     registers=float(model.backbone.registers.double().sum())))
""", config=SEG, checkpoint=seg_ckpt, image=image(scenes, 'seg'))
    assert res['shape'] == (1, 128, 128)
    assert res['registers'] == pytest.approx(param_sum(seg_ckpt, 'backbone.registers'))  # trained weights


def test_mmdet_inferencer(scenes, det_ckpt, tmp_path):
    img, out_dir = image(scenes, 'det'), tmp_path / 'out'
    res = run_doc_block('DetInferencer', tmp_path, """
pred = result['predictions'][0]
print('RESULT', dict(keys=sorted(pred), n=len(pred['labels']), classes=inferencer.model.dataset_meta['classes']))
""", config=DET, checkpoint=det_ckpt, image=img, out_dir=out_dir)
    assert {'labels', 'scores', 'bboxes', 'masks'} <= set(res['keys'])
    assert res['n'] == 16 and len(res['classes']) == 6  # test_cfg.max_per_image; the 6 shape classes
    name = img.rsplit('/', 1)[1]
    assert (out_dir / 'vis' / name).is_file()
    assert (out_dir / 'preds' / name.replace('.jpg', '.json')).is_file()


def test_mmdet_init_detector_and_inference_detector(scenes, det_ckpt, tmp_path):
    res = run_doc_block('init_detector', tmp_path, """
inst = result.pred_instances
print('RESULT', dict(n=len(inst), masks=tuple(inst.masks.shape), boxes=tuple(inst.bboxes.shape),
                     registers=float(model.backbone.registers.double().sum())))
""", config=DET, checkpoint=det_ckpt, image=image(scenes, 'det'))
    assert res['n'] == 16 and res['masks'] == (16, 128, 128) and res['boxes'] == (16, 4)
    assert res['registers'] == pytest.approx(param_sum(det_ckpt, 'backbone.registers'))


def test_mmpretrain_get_model_extract_feat(dino_ckpt, tmp_path):
    res = run_doc_block('get_model', tmp_path, """
print('RESULT', dict(maps=[tuple(f.shape) for f in feats], registers=tuple(feats.registers.shape),
                     teacher=float(model.teacher.backbone.registers.double().sum())))
""", config=DINO, checkpoint=dino_ckpt)
    assert res['maps'] == [(1, 64, 6, 6)] and res['registers'] == (1, 16, 64)
    assert res['teacher'] == pytest.approx(param_sum(dino_ckpt, 'teacher.backbone.registers'))

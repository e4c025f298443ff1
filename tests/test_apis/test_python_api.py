"""mmrats.apis: backbones from every kind of weights file, untrained copies, extraction, and what a backbone
sees in images (docs/python_api.md, whose examples run here)."""
import os
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmrats.apis import (BackboneLoadError, ImageError, backbone_config, compress_attention, discover_parts,
                         extract_backbone, extract_features, finetune_backbone, load_backbone, load_image, normalize,
                         read_backbone_weights, register_maps, untrained_backbone)
from mmrats.evaluation import PartSegmenter
from mmrats.models import RATSViT
from mmrats.registry import MODELS
from mmrats.visualization import register_similarity
from tests.conftest import REPO

DINO_DEMO = REPO / 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py'
TINY = dict(arch='tiny', img_size=64)


def dino_checkpoint(path, config=DINO_DEMO, seed=0):
    """A checkpoint laid out as tools/train.py writes one for a DINO config: the algorithm's state dict
    (student ``backbone.*``, EMA teacher ``teacher.backbone.*``) and the config text in ``meta.cfg``."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(config))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    with torch.no_grad():  # the teacher is an EMA copy: make it differ from the student
        for p in model.teacher.parameters():
            p.add_(0.01)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text, epoch=12)), path)
    return model


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    """A folder holding what docs/python_api.md names: the DINO demo's checkpoint and teacher, a photo."""
    root = tmp_path_factory.mktemp('api')
    ckpt = root / 'work_dirs/dino_demo/rats/epoch_12.pth'
    dino_checkpoint(ckpt)
    extract_backbone(ckpt, root / 'work_dirs/dino_demo/rats_teacher_backbone.pth')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (120, 90, 3), dtype=np.uint8)).save(root / 'photo.jpg')
    (root / 'configs').symlink_to(REPO / 'configs')
    return root


def test_the_documented_examples_run(demo_dir, monkeypatch):
    monkeypatch.chdir(demo_dir)
    blocks = re.findall(r'```python\n(.*?)```', (REPO / 'docs/python_api.md').read_text(), re.S)
    assert len(blocks) >= 5
    ns: dict = {}
    for block in blocks:
        exec(compile(block, 'docs/python_api.md', 'exec'), ns)  # noqa: S102  (the documented code, as is)
    # what the docs say the results are
    assert ns['parts'].labels.shape == (96, 96) and ns['parts'].maps.shape == (8, 6, 6)
    assert ns['picture'].ndim == 3 and ns['picture'].dtype == np.uint8
    assert set(ns['several'][1]) == {4, 8} and ns['several'][1][4].labels.max() <= 3
    assert ns['att'].attention.shape == (4, 4, 6, 6) and list(ns['maps'].peaks) == sorted(ns['maps'].peaks)[::-1]
    f = ns['f']
    assert f['global'].shape == (1, 64) and f['registers'].shape == (1, 16, 64) and f['cls_token'] is None
    assert f['patch_tokens'].shape == (1, 36, 64) and f['patch_hw'] == (6, 6)
    assert (demo_dir / 'rats_teacher_ft.pth').is_file()
    assert ns['vit'].mode == 'mhsa' and ns['tiny'].num_registers == 8


def test_the_readme_example_runs(demo_dir, monkeypatch):
    monkeypatch.chdir(demo_dir)
    blocks = [b for b in re.findall(r'```python\n(.*?)```', (REPO / 'README.md').read_text(), re.S)
              if 'mmrats.apis' in b]
    assert len(blocks) == 1
    ns: dict = {}
    exec(compile(blocks[0], 'README.md', 'exec'), ns)  # noqa: S102
    assert ns['parts'].labels.shape == (96, 96) and len(ns['maps'].indices) == 16
    assert ns['feats']['global'].shape == (1, 64) and ns['baseline'].num_registers == ns['rats'].num_registers


def test_every_kind_of_file_gives_the_same_teacher(demo_dir):
    ckpt = demo_dir / 'work_dirs/dino_demo/rats/epoch_12.pth'
    full = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    teacher, student = load_backbone(ckpt), load_backbone(ckpt, which='student')
    extracted = load_backbone(demo_dir / 'work_dirs/dino_demo/rats_teacher_backbone.pth')
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, full[f'teacher.backbone.{k}']) and torch.equal(extracted.state_dict()[k], v), k
        assert torch.equal(student.state_dict()[k], full[f'backbone.{k}']), k
    assert not torch.equal(teacher.registers, student.registers)
    dino = read_backbone_weights(ckpt)
    assert dino.kind == 'dino' and dino.pretraining['type'] == 'mmrats.DINO'
    backbone_file = demo_dir / 'work_dirs/dino_demo/rats_teacher_backbone.pth'
    w = read_backbone_weights(backbone_file)
    assert w.kind == 'backbone' and w.pretraining['global_repr'] == 'auto'  # kept by the extraction
    saved = torch.load(backbone_file, map_location='cpu', weights_only=True)
    assert saved['meta']['pretraining']['global_repr'] == 'auto'  # no need to read the DINO checkpoint again
    del saved['meta']['pretraining']  # a file extracted before: its DINO checkpoint is read when asked
    torch.save(saved, demo_dir / 'older.pth')
    assert read_backbone_weights(demo_dir / 'older.pth').pretraining['type'] == 'mmrats.DINO'
    # a bare state dict: the architecture read off the keys
    torch.save(teacher.state_dict(), demo_dir / 'bare.pth')
    bare = load_backbone(demo_dir / 'bare.pth')
    assert backbone_config(demo_dir / 'bare.pth')['arch'] == dict(embed_dims=64, num_heads=4, num_layers=4,
                                                                  mlp_ratio=4.0)
    x = torch.randn(1, 3, 96, 96)
    torch.testing.assert_close(bare(x)[0], teacher(x)[0])


def test_a_finetuning_checkpoint_gives_its_backbone(tmp_path):
    """An mmseg / mmdet checkpoint: the backbone of ``meta.cfg``'s model, without re-reading its init_cfg."""
    bb = RATSViT(**TINY, parallel_branch=True).eval()
    cfg = Config(dict(model=dict(type='EncoderDecoder', backbone=dict(
        type='mmrats.RATSViT', **TINY, parallel_branch=True, out_indices=(0, 1), drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='gone.pth')))))
    sd = {f'backbone.{k}': v for k, v in bb.state_dict().items()} | {'decode_head.conv.weight': torch.zeros(2)}
    torch.save(dict(state_dict=sd, meta=dict(cfg=cfg.pretty_text)), tmp_path / 'seg.pth')
    got = load_backbone(tmp_path / 'seg.pth')
    assert got.parallel_branch and read_backbone_weights(tmp_path / 'seg.pth').kind == 'model'
    assert all(torch.equal(v, bb.state_dict()[k]) for k, v in got.state_dict().items())


@pytest.mark.parametrize('make, message', [
    (None, 'does not exist'),
    (lambda p: p.write_bytes(b''), 'is empty'),
    (lambda p: p.write_bytes(b'<html>not a checkpoint</html>'), 'cannot be read as a torch checkpoint'),
    (lambda p: torch.save(dict(state_dict={'head.fc.weight': torch.zeros(2)}), p), 'holds no backbone'),
    (lambda p: torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(2)},
                               meta=dict(cfg="model = dict(type='EncoderDecoder', backbone=dict(type='ResNet'))")),
                          p), "model.backbone.type is 'ResNet'"),
    (lambda p: torch.save(dict(state_dict=RATSViT(arch=dict(embed_dims=64, num_heads=4, num_layers=1,
                                                             num_registers=8)).state_dict(),
                               meta=dict(backbone=dict(type='mmrats.RATSViT', **TINY))), p),
     'does not match RATSViT'),
])
def test_what_is_not_a_backbone_is_named(tmp_path, make, message):
    path = tmp_path / 'w.pth'
    if make:
        make(path)
    with pytest.raises(BackboneLoadError, match=message) as e:
        load_backbone(path)
    assert str(path) in str(e.value)


def test_untrained_copies_are_seeded_and_of_the_same_architecture(demo_dir):
    path = demo_dir / 'work_dirs/dino_demo/rats_teacher_backbone.pth'
    a, b, c = untrained_backbone(path, seed=3), untrained_backbone(path, seed=3), untrained_backbone(path, seed=4)
    assert a.state_dict().keys() == load_backbone(path).state_dict().keys()
    assert torch.equal(a.registers, b.registers) and not torch.equal(a.registers, c.registers)
    torch.manual_seed(3)  # the same draws as building the backbone by hand with that seed
    assert torch.equal(RATSViT(**backbone_config(path)).registers, a.registers)
    with pytest.raises(BackboneLoadError, match='does not exist'):
        untrained_backbone(demo_dir / 'missing.py')


def test_extract_refuses_to_overwrite_and_non_dino_files(demo_dir, tmp_path):
    ckpt = demo_dir / 'work_dirs/dino_demo/rats/epoch_12.pth'
    dst = tmp_path / 'b.pth'
    dst.write_text('mine')
    with pytest.raises(FileExistsError, match='force'):
        extract_backbone(ckpt, dst)
    assert dst.read_text() == 'mine'
    ft = extract_backbone(ckpt, dst, finetune=True, force=True)
    x = torch.randn(1, 3, 96, 96)
    torch.testing.assert_close(load_backbone(ft)(x)[0], load_backbone(ckpt)(x)[0], atol=1e-5, rtol=0)
    with pytest.raises(BackboneLoadError, match='not a DINO pretraining checkpoint'):
        extract_backbone(demo_dir / 'work_dirs/dino_demo/rats_teacher_backbone.pth', tmp_path / 'c.pth')


def test_finetune_backbone_of_any_rats_file(demo_dir, tmp_path):
    teacher = demo_dir / 'work_dirs/dino_demo/rats_teacher_backbone.pth'
    r = finetune_backbone(teacher, tmp_path / 'ft.pth', parallel_qkv='separate')
    assert r['added_tensors'] == 4 * 4 and r['max_difference'] < 1e-5  # per block: parallel_{proj,qkv}.{weight,bias}
    ft = load_backbone(r['path'])
    x = torch.randn(1, 3, 96, 96)
    assert ft.parallel_branch and torch.allclose(ft(x)[0], load_backbone(teacher)(x)[0], atol=1e-5)
    with pytest.raises(BackboneLoadError, match='already has a parallel branch'):
        finetune_backbone(r['path'], tmp_path / 'again.pth')
    torch.save(RATSViT(**TINY, mode='mhsa').state_dict(), tmp_path / 'vit.pth')
    with pytest.raises(BackboneLoadError, match='RATS option'):
        finetune_backbone(tmp_path / 'vit.pth', tmp_path / 'vit_ft.pth')
    assert not (tmp_path / 'again.pth').exists() and not (tmp_path / 'vit_ft.pth').exists()


def test_images_of_any_kind(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    assert np.array_equal(load_image(rgb), rgb) and load_image(rgb, (16, 32)).shape == (16, 32, 3)
    assert np.array_equal(load_image(torch.from_numpy(rgb).permute(2, 0, 1)), rgb)  # channels first
    gray = load_image(rgb[..., 0])
    assert gray.shape == (30, 40, 3) and np.array_equal(gray[..., 1], rgb[..., 0])
    sixteen = load_image((rgb[..., 0].astype(np.uint16) * 257))
    assert np.array_equal(sixteen[..., 0], rgb[..., 0])
    rgba = np.concatenate([rgb, np.zeros((30, 40, 1), np.uint8)], -1)  # alpha dropped, as PIL's convert('RGB')
    assert np.array_equal(load_image(rgba), rgb)
    Image.fromarray(rgba).save(tmp_path / 'rgba.png')
    as_pil = np.asarray(Image.open(tmp_path / 'rgba.png').convert('RGB'))
    assert np.array_equal(load_image(tmp_path / 'rgba.png'), as_pil)
    assert np.array_equal(load_image(rgb.astype(np.float32) / 255), rgb)
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / 'g16.png')
    assert np.array_equal(load_image(tmp_path / 'g16.png')[..., 2], rgb[..., 0])
    x = normalize(rgb)
    assert x.shape == (1, 3, 30, 40) and abs(float(x[0, 0, 0, 0]) - (rgb[0, 0, 0] - 123.675) / 58.395) < 1e-5
    (tmp_path / 'empty.jpg').write_bytes(b'')
    Image.fromarray(rgb).save(tmp_path / 'ok.jpg')
    (tmp_path / 'cut.jpg').write_bytes((tmp_path / 'ok.jpg').read_bytes()[:200])
    (tmp_path / 'text.jpg').write_text('hello')
    for name in ('missing.jpg', 'empty.jpg', 'cut.jpg', 'text.jpg'):
        with pytest.raises(ImageError, match=re.escape(str(tmp_path / name))):
            load_image(tmp_path / name)
    with pytest.raises(ImageError, match=r'shape \(2, 3, 5, 5\)'):
        load_image(np.zeros((2, 3, 5, 5)))


def test_parts_match_the_segmenter_and_take_any_size():
    torch.manual_seed(0)
    rats = RATSViT(**TINY).eval()
    img = np.random.default_rng(1).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    got = discover_parts(rats, img, top_k=4)  # resized to the 64 px the backbone was built for
    ref = PartSegmenter(rats, None, 4, 1.0)(normalize(load_image(img, 64)), [4])[0]
    assert np.array_equal(got.labels, ref.labels[0].numpy()) and got.labels.shape == (64, 64)
    assert np.array_equal(got.indices, ref.indices[0].numpy())
    assert np.array_equal(got.heads, got.indices // 2)  # tiny: 8 registers over 4 heads
    both = discover_parts(rats, [img, torch.from_numpy(img)], top_k=[2, 4], img_size=96)
    assert np.array_equal(both[0][4].labels, both[1][4].labels) and both[0][2].labels.shape == (96, 96)
    vit = RATSViT(**TINY, mode='mhsa').eval()
    heads = discover_parts(vit, img, top_k=3)
    assert heads.method == 'cls-attn' and heads.heads is None and len(heads.indices) == 3
    with pytest.raises(ImageError, match='multiple of the patch size 16'):
        discover_parts(rats, img, img_size=100)
    with pytest.raises(ValueError, match='top_k'):
        discover_parts(rats, img, top_k=0)


def test_maps_attention_and_features_are_the_backbone_s():
    torch.manual_seed(0)
    rats = RATSViT(**TINY).eval()
    img = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    x = normalize(img)
    with torch.no_grad():
        f = rats.forward_features(x)
    maps, idx = register_similarity(f['registers'], f['patch_tokens'], f['patch_hw'], 5)
    got = register_maps(rats, img, top_k=5)
    assert np.array_equal(got.indices, idx[0].numpy()) and np.allclose(got.maps, maps[0].numpy())
    assert got.draw().shape[-1] == 3
    att = compress_attention(rats, img)
    assert att.attention.shape == (4, 2, 4, 4) and np.allclose(att.attention.sum((2, 3)), 1, atol=1e-5)
    feats = extract_features(rats, x)  # a normalised batch is used as it is
    torch.testing.assert_close(feats['global'], f['registers'].mean(1))
    vit = RATSViT(**TINY, mode='mhsa', num_registers=2).eval()
    with torch.no_grad():
        assert torch.equal(extract_features(vit, img)['global'], vit.forward_features(x)['cls_token'])
    with pytest.raises(ValueError, match='only in a RATS backbone'):
        compress_attention(vit, img)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device on this machine')
def test_parts_on_the_gpu():
    torch.manual_seed(0)
    rats = RATSViT(**TINY).eval()
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    cpu = discover_parts(rats, img, top_k=4)
    gpu = discover_parts(rats.cuda(), img, top_k=4)
    assert (cpu.labels == gpu.labels).mean() > 0.99


def test_apis_run_without_the_working_directory(tmp_path, monkeypatch):
    """The configs are found from the package, wherever the user runs Python."""
    from mmrats.apis.runs import repo_config
    monkeypatch.chdir(tmp_path)
    assert os.path.isfile(repo_config('configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py'))
    with pytest.raises(FileNotFoundError, match='ship with the repository'):
        repo_config('configs/nope.py')

"""tools/analysis/part_segmentation.py on a tiny synthetic dataset (tiny backbones, 64x64)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmrats.models import RATSViT
from tests.conftest import load_tool

tool = load_tool('tools/analysis/part_segmentation.py')

CUSTOM = '{"embed_dims": 64, "num_heads": 4, "num_layers": 1, "num_registers": 16}'


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmrats.datasets.synthetic_scenes import write_dataset
    root = tmp_path_factory.mktemp('synthetic')
    write_dataset(str(root), num_train=2, num_val=4, size=64)
    return str(root)


def run(scenes, out, *extra):
    return tool.main(['--dataset-type', 'synthetic', '--data-root', scenes, '--arch', 'tiny', '--img-size', '64',
                      '--top-k', '4', '--batch-size', '2', '--out-dir', str(out), *extra])


def test_rats_row_pictures_and_sweep(scenes, tmp_path, capsys):
    show = tmp_path / 'show'
    assert run(scenes, tmp_path, '--show-dir', str(show), '--show-num', '3', '--sweep', '--sweep-sizes', '32', '64',
               '--sweep-top-k', '2', '8') == 0
    stdout = capsys.readouterr().out
    assert 'images/s' in stdout and '2,000 images at 64' in stdout
    res = json.loads((tmp_path / 'results.json').read_text())
    d = res['datasets']['synthetic']
    assert res['model']['method'] == 'registers' and res['model']['num_registers'] == 8
    assert d['num_images'] == 4 and d['effective_top_k'] == 4 and 0 <= d['m2o'] <= 100 and 0 <= d['o2o'] <= 100
    assert d['timing']['images_per_s'] > 0
    assert d['timing']['seconds_for_2000_images'] == pytest.approx(2000 / d['timing']['images_per_s'])
    assert res['row']['avg_m2o'] == pytest.approx(d['m2o'])
    sweep = res['sweep']
    assert sweep['resolution']['values'] == [32, 64] and sweep['top_k']['values'] == [2, 4, 8]
    assert sweep['resolution']['curves']['synthetic']['m2o'][1] == pytest.approx(d['m2o'])  # same run at 64
    assert sweep['top_k']['curves']['synthetic']['ari'][1] == pytest.approx(d['ari'])  # K = 4
    md = (tmp_path / 'results.md').read_text()
    assert f"| RATS-tiny (random init) | RATS-tiny/16 | 8 | {d['m2o']:.1f} |" in md
    assert 'Sweep over resolution' in md and 'Sweep over top-K' in md
    for png in [tmp_path / 'sweep_resolution.png', tmp_path / 'sweep_top_k.png', *show.glob('*.png')]:
        assert np.asarray(Image.open(png)).std() > 5, png
    names = sorted(p.name for p in show.glob('*.png'))
    assert len(names) == 6 and names[0] == 'synthetic_0000_000000.png' and names[1].endswith('_heads.png')


def test_vit_baselines_choose_their_method(scenes, tmp_path):
    assert run(scenes, tmp_path / 'dino', '--mode', 'mhsa', '--show-dir', str(tmp_path / 's'), '--show-num', '1') == 0
    dino = json.loads((tmp_path / 'dino/results.json').read_text())
    assert dino['model']['method'] == 'cls-attn' and dino['datasets']['synthetic']['num_maps'] == 4  # one per head
    assert not list((tmp_path / 's').glob('*_heads.png'))  # compress attention exists only in RATS
    assert run(scenes, tmp_path / 'reg', '--mode', 'mhsa', '--num-registers', '2') == 0
    reg = json.loads((tmp_path / 'reg/results.json').read_text())
    assert reg['model']['method'] == 'register-attn' and reg['datasets']['synthetic']['num_maps'] == 2


def test_checkpoint_is_loaded(scenes, tmp_path):
    torch.manual_seed(123)
    torch.save(RATSViT(arch='tiny', img_size=224).state_dict(), tmp_path / 'b.pth')  # pos_embed resized on load
    assert run(scenes, tmp_path / 'ckpt', '--checkpoint', str(tmp_path / 'b.pth'), '--img-size', '224') == 0
    assert run(scenes, tmp_path / 'seed', '--seed', '123', '--img-size', '224') == 0
    assert run(scenes, tmp_path / 'seed0', '--img-size', '224') == 0
    ckpt, seed, seed0 = (json.loads((tmp_path / k / 'results.json').read_text())['datasets']['synthetic']
                         for k in ('ckpt', 'seed', 'seed0'))
    assert ckpt['m2o'] == seed['m2o'] and ckpt['ari'] == seed['ari']  # the checkpoint's weights were used
    assert (ckpt['m2o'], ckpt['ari']) != (seed0['m2o'], seed0['ari'])


def test_patch_size_comes_from_the_checkpoint_meta(scenes, tmp_path):
    """Lab-scale backbones (tools/lab) have 8-pixel patches; their meta.backbone says so."""
    model = RATSViT(arch='tiny', patch_size=8, img_size=64)
    meta = dict(backbone=dict(type='mmrats.RATSViT', arch='tiny', mode='rats', patch_size=8, img_size=64))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), tmp_path / 'p8.pth')
    assert tool.main(['--dataset-type', 'synthetic', '--data-root', scenes, '--img-size', '72', '--top-k', '4',
                      '--checkpoint', str(tmp_path / 'p8.pth'), '--out-dir', str(tmp_path / 'out')]) == 0
    res = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert res['model']['backbone'] == 'RATS-tiny/8' and res['datasets']['synthetic']['num_images'] == 4


def test_custom_arch_json(scenes, tmp_path):
    assert run(scenes, tmp_path, '--arch', CUSTOM, '--max-images', '2', '--top-k', '16') == 0
    res = json.loads((tmp_path / 'results.json').read_text())
    assert res['model']['num_registers'] == 16 and res['datasets']['synthetic']['num_images'] == 2
    assert res['datasets']['synthetic']['effective_top_k'] == 16


@pytest.mark.parametrize('extra, message', [
    (['--img-size', '100'], 'image size 100 is not a positive multiple of the patch size 16'),
    (['--sweep', '--sweep-sizes', '64', '72'], 'image size 72'),
    (['--method', 'cls-attn'], "method 'cls-attn' needs a [CLS] token"),
    (['--arch', '{"embed_dims": 64'], 'is not valid JSON'),
    (['--arch', 'huge'], "Unknown RATSViT arch 'huge'"),
    (['--top-k', '0'], '--top-k, --sweep-top-k, --batch-size and --max-images must be >= 1'),
    (['--max-images', '0'], '--max-images must be >= 1'),
])
def test_bad_input_is_one_line_and_exit_code_2(scenes, tmp_path, capsys, extra, message):
    assert run(scenes, tmp_path, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1 and message in err and 'Traceback' not in err


def test_bad_data_root_and_checkpoints(scenes, tmp_path, capsys):
    assert tool.main(['--dataset-type', 'ade20k', '--data-root', str(tmp_path / 'no'), '--arch', 'tiny']) == 2
    err = capsys.readouterr().err
    assert f"data root '{tmp_path / 'no'}' does not exist" in err and 'annotations/<split>' in err
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    torch.save(RATSViT(arch=json.loads(CUSTOM)).state_dict(), tmp_path / 'other.pth')
    for ckpt, message in [('missing.pth', 'does not exist'), (str(tmp_path / 'junk.pth'), 'cannot load'),
                          (str(tmp_path / 'other.pth'), 'does not match RATSViT')]:
        assert run(scenes, tmp_path, '--checkpoint', ckpt) == 2
        err = capsys.readouterr().err
        assert err.startswith('error: cannot load --checkpoint') and err.count('\n') == 1 and message in err, err

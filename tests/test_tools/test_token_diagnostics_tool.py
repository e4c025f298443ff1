"""tools/analysis/token_diagnostics.py on tiny backbones and a few 32 px images: JSON, markdown, pictures,
the global representation read from a DINO checkpoint (and from the one a backbone was converted from),
the combined table and the one-line errors."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmrats.apis import extract_backbone
from mmrats.models import RATSViT
from tests.conftest import load_tool, write_scenes

tool = load_tool('tools/analysis/token_diagnostics.py')

SMALL = ['--img-size', '32', '--num-images', '4', '--knn-train', '8', '--knn-k', '3', '--batch-size', '4',
         '--pictures', '1', '--parts-top-k', '4']


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    return str(write_scenes(tmp_path_factory, num_train=1, num_val=3, size=64) / 'coco')


def fake_dino_checkpoint(path, global_repr='lastvit'):
    """What tools/train.py writes for a DINO run, reduced to what the tool reads: meta.cfg and teacher weights."""
    torch.manual_seed(1)
    bb = RATSViT(arch='tiny', mode='mhsa', img_size=32, patch_size=8)
    cfg = (f"model = dict(type='mmrats.DINO', global_repr='{global_repr}', lastvit=dict(top_k=3, sigma=2.0), "
           "backbone=dict(type='mmrats.RATSViT', arch='tiny', mode='mhsa', img_size=32, patch_size=8))\n")
    sd = {f'teacher.backbone.{k}': v for k, v in bb.state_dict().items()}
    torch.save(dict(state_dict=sd, meta=dict(cfg=cfg)), path)
    return bb


def test_random_rats_row_with_coco_pictures_and_table(coco, tmp_path, capsys):
    out = tmp_path / 'rats'
    assert tool.main([*SMALL, '--name', 'r', '--coco-root', coco, '--out-dir', str(out)]) == 0
    res = json.loads((out / 'results.json').read_text())
    assert res['global_repr'] == 'registers' and res['model']['source'] == 'random init'
    assert set(res['norms']) == {'part-objects', 'coco'}
    layers = res['norms']['part-objects']
    assert len(layers) == 3 and layers[-1]['layer'] == 'output (post-norm)'  # tiny: 2 blocks
    assert layers[0]['register_mean'] > 0 and layers[0]['cls'] is None
    for key in ('part-objects', 'coco'):
        p = res['pib'][key]
        assert 0 <= p['pib'] <= 100 and 0 < p['pib_chance'] < 100 and 0 <= p['vote_share_in_boxes'] <= 100
    assert res['pib']['coco']['images'] == 3 and res['pib']['part-objects']['images'] == 4
    m = res['masking']
    assert m['num_masked'] == 4 and all(0 <= m[k] <= 100 for k in ('clean', 'top', 'bottom', 'random'))
    assert res['parts']['method'] == 'registers' and 0 < res['parts']['m2o'] <= 100
    md = (out / 'results.md').read_text()
    assert md.count('| r | registers |') == 1 and 'Token norms per layer (coco)' in md
    for png in ('norm_histograms_part-objects.png', 'maps_part-objects.png', 'maps_coco.png'):
        assert np.asarray(Image.open(out / png)).std() > 5, png
    vit = tmp_path / 'vit'
    assert tool.main([*SMALL, '--mode', 'mhsa', '--name', 'v', '--pictures', '0', '--parts-top-k', '0',
                      '--out-dir', str(vit)]) == 0
    assert not list(vit.glob('*.png'))
    capsys.readouterr()
    assert tool.main(['--table', str(tmp_path / 't.md'), str(out), str(vit / 'results.json')]) == 0
    rows = (tmp_path / 't.md').read_text().splitlines()
    assert len(rows) == 4 and rows[2].startswith('| r | registers |') and rows[3].startswith('| v | cls |')


def test_coco_boxes_follow_the_resize(coco):
    ann = json.loads((Path(coco) / 'annotations' / 'instances_val2017.json').read_text())
    first = min(i['id'] for i in ann['images'])
    x, y, w, h = [a['bbox'] for a in ann['annotations'] if a['image_id'] == first][0]
    data = tool.coco_images(coco, 'val', 2, 32)  # 64 px scenes -> 32 px
    assert data.images.shape == (2, 32, 32, 3) and data.categories is None
    np.testing.assert_allclose(data.boxes[0][0], [x / 2, y / 2, (x + w) / 2, (y + h) / 2])


def test_global_repr_comes_from_the_dino_config(tmp_path):
    ckpt = tmp_path / 'epoch_1.pth'
    bb = fake_dino_checkpoint(ckpt)
    out = tmp_path / 'dino'
    assert tool.main([*SMALL, '--checkpoint', str(ckpt), '--out-dir', str(out), '--pictures', '0']) == 0
    res = json.loads((out / 'results.json').read_text())
    assert res['global_repr'] == 'lastvit' and res['settings']['lastvit']['top_k'] == 3
    assert res['settings']['lastvit']['sigma'] == 2.0 and res['model']['source'] == 'DINO checkpoint (teacher)'
    model, _ = tool.load_model(tool.parse_args(['--checkpoint', str(ckpt)]))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), bb.state_dict().values()))
    # a backbone extracted from it remembers where it came from
    dst = extract_backbone(ckpt, tmp_path / 'teacher_backbone.pth')
    out2 = tmp_path / 'backbone'
    assert tool.main([*SMALL, '--checkpoint', str(dst), '--out-dir', str(out2), '--pictures', '0',
                      '--lastvit-top-k', '0.5']) == 0
    res2 = json.loads((out2 / 'results.json').read_text())
    assert res2['global_repr'] == 'lastvit' and res2['settings']['lastvit']['top_k'] == 0.5
    assert res2['model']['source'] == f'backbone (teacher) converted from {ckpt}'  # mmrats.apis' description
    # overriding: [CLS], as a plain ViT is read
    assert tool.main([*SMALL, '--checkpoint', str(dst), '--global-repr', 'cls', '--out-dir', str(out2),
                      '--pictures', '0']) == 0
    assert json.loads((out2 / 'results.json').read_text())['global_repr'] == 'cls'


@pytest.mark.parametrize('args,message', [
    (['--checkpoint', 'nowhere.pth'], '--checkpoint nowhere.pth does not exist'),
    (['--mask-ratio', '1.5'], '--mask-ratio must be in (0, 1)'),
    (['--global-repr', 'cls'], "'cls' needs a backbone with [CLS]"),
    (['--coco-root', 'no_such_dir'], 'annotations/instances_val2017.json'),
    (['--img-size', '36'], 'is not a multiple of'),
    (['--lastvit-top-k', '99'], 'top_k=99 must be in [1, 16]'),
    (['--table', 'x.md', 'no_such_results'], 'no results.json there'),
])
def test_bad_input_is_one_line(args, message, tmp_path, capsys):
    assert tool.main([*SMALL, '--out-dir', str(tmp_path / 'o'), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / 'o' / 'results.json').exists()

"""The demo: register similarity maps of an image as a PNG (Eq. 7)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmrats.visualization import register_similarity
from tests.conftest import load_tool

register_maps = load_tool('tools/demo/register_maps.py')


def test_register_similarity_hand_made():
    patches = torch.eye(4)[None]  # 4 patches, orthonormal, on a 2x2 grid
    registers = torch.tensor([[[0.0, 0.0, 2.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, -1.0]]])
    maps, idx = register_similarity(registers, patches, (2, 2), top_k=2)
    assert idx.tolist() == [[0, 1]]  # peaks 1.0, 0.707; register 2 peaks at 0
    torch.testing.assert_close(maps[0, 0], torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    torch.testing.assert_close(maps[0, 1], torch.tensor([[0.5 ** 0.5, 0.5 ** 0.5], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r'patch_hw=\(3, 2\) does not match 4 patch tokens'):
        register_similarity(registers, patches, (3, 2))


def test_demo_writes_png_and_json(tmp_path, capsys):
    assert register_maps.main(['--arch', 'tiny', '--img-size', '64', '--top-k', '4',
                               '--out-dir', str(tmp_path)]) == 0
    png = np.asarray(Image.open(tmp_path / 'register_maps.png'))
    assert png.ndim == 3 and png.shape[0] > 100 and png.std() > 10  # a real picture, not blank
    summary = json.loads((tmp_path / 'register_maps.json').read_text())
    peaks = [r['peak'] for r in summary['top_registers']]
    assert len(peaks) == 4 and peaks == sorted(peaks, reverse=True)
    assert summary['patch_grid'] == [4, 4]
    assert 'wrote' in capsys.readouterr().out


def test_demo_with_checkpoint_and_bad_inputs(tmp_path):
    from mmrats.models import RATSViT
    torch.save(RATSViT(arch='tiny', img_size=64).state_dict(), tmp_path / 'b.pth')
    assert register_maps.main(['--arch', 'tiny', '--img-size', '64', '--checkpoint', str(tmp_path / 'b.pth'),
                               '--out-dir', str(tmp_path / 'o')]) == 0
    with pytest.raises(SystemExit, match='--image missing.jpg does not exist'):
        register_maps.main(['--arch', 'tiny', '--image', 'missing.jpg', '--out-dir', str(tmp_path)])
    with pytest.raises(SystemExit):
        register_maps.main(['--img-size', '100'])

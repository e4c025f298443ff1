"""The parts page's pictures and checkpoint menu (mmrats.apis.parts_page, no browser, no Gradio)."""
import io
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from mmrats.apis import ImageError, token_norms, untrained_backbone
from mmrats.apis.parts_page import (UNTRAINED, CheckpointChoices, compute_views, find_checkpoints, read_image,
                                    register_view)
from mmrats.apis.weights import BackboneLoadError
from mmrats.datasets.sample_photos import sample_photo, sample_photo_names
from mmrats.visualization import overlay_labels, overlay_map, stack_pictures

TINY = dict(arch='tiny', img_size=64)


def huge_png(path, side=20000):
    """A valid 1-bit grey PNG of side x side (about 50 kB: zeros compress well)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    row = b'\x00' * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    data = b''.join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 1, 0, 0, 0, 0))
                     + chunk(b'IDAT', data) + chunk(b'IEND', b''))
    return path


@pytest.fixture(scope='module')
def rats():
    return untrained_backbone(TINY, seed=0)


def test_read_image_converts_and_resizes(tmp_path):
    photo = sample_photo('chelsea')
    cases = {'a.jpg': Image.fromarray(photo), 'b.png': Image.fromarray(photo).convert('RGBA'),
             'c.webp': Image.fromarray(photo), 'd.png': Image.fromarray(photo[..., 0]),
             'e.png': Image.fromarray((photo[..., 0].astype(np.uint16) * 257)).convert('I;16'),
             'f.png': Image.fromarray(photo).convert('P')}
    for name, img in cases.items():
        img.save(tmp_path / name)
        rgb, what = read_image(tmp_path / name, (64, 48))
        assert rgb.shape == (64, 48, 3) and rgb.dtype == np.uint8, name
        assert f'{photo.shape[1]} x {photo.shape[0]}, resized to 48 x 64' in what, what
    # 16-bit grey is scaled to 8 bits, not clipped: its mean matches the 8-bit file's
    e, d = (read_image(tmp_path / f'{n}.png', (64, 48))[0] for n in 'ed')
    assert abs(e.mean() - d.mean()) < 1


@pytest.mark.parametrize('case, words', [
    ('missing', 'does not exist'), ('empty', 'empty file'), ('text', 'not an image'),
    ('truncated', 'cannot be read'), ('huge', '20000 x 20000 .400 megapixels.; the page takes images up to 50'),
    ('large', '8000 x 8000 .64 megapixels.')])
def test_read_image_refuses_bad_files(tmp_path, case, words):
    path = tmp_path / f'{case}.png'
    if case == 'empty':
        path.write_bytes(b'')
    elif case == 'text':
        path.write_text('not a picture\n')
    elif case == 'truncated':
        buf = io.BytesIO()
        Image.fromarray(sample_photo('coffee')).save(buf, 'JPEG')
        path = tmp_path / 'truncated.jpg'
        path.write_bytes(buf.getvalue()[:len(buf.getvalue()) // 3])
    elif case in ('huge', 'large'):  # above PIL's own limit (178 MP), and between that and ours
        huge_png(path, 20000 if case == 'huge' else 8000)
    with pytest.raises(ImageError, match=words) as e:
        read_image(path, (64, 64))
    assert path.name in str(e.value)


def test_compute_views_rats(rats):
    views = compute_views(rats, sample_photo('astronaut'), top_k=4)
    for pic in (views.image, views.parts, views.norms, register_view(views, 7)):
        assert pic.shape == (64, 64, 3) and pic.dtype == np.uint8
    assert views.num_parts == 4 and views.register_maps.shape == (8, 4, 4)
    assert list(views.register_peaks) == sorted(views.register_peaks, reverse=True)
    assert views.register_heads is not None and views.compress is not None and not views.notes
    assert views.register_caption(0).startswith(f'#1: register {views.register_ids[0]} (head ')
    # the norms picture is the norms of the API, drawn over the image
    norms = token_norms(rats, views.image)
    np.testing.assert_array_equal(views.norms, overlay_map(views.image, norms.patches, cmap='magma'))
    with pytest.raises(ValueError, match='out of range'):
        register_view(views, 8)


def test_compute_views_vit_notes():
    vit = untrained_backbone(dict(TINY, mode='mhsa', num_registers=0, with_cls_token=True), seed=0)
    views = compute_views(vit, sample_photo('coffee'), top_k=16)
    assert views.register_maps is None and views.compress is None
    assert views.num_parts == 4  # one [CLS] map per head
    assert any('no registers' in n for n in views.notes) and any('RATS only' in n for n in views.notes)
    with pytest.raises(ValueError, match='no registers'):
        register_view(views, 0)


def test_token_norms_layers(rats):
    last = token_norms(rats, sample_photo('coffee'))
    out = token_norms(rats, sample_photo('coffee'), layer=rats.num_layers)
    assert last.layer == rats.num_layers - 1 and out.layer == rats.num_layers
    assert last.patches.shape == (4, 4) and last.registers.shape == (8,) and last.cls is None
    assert not np.allclose(last.patches, out.patches)
    with pytest.raises(ValueError, match='out of range'):
        token_norms(rats, sample_photo('coffee'), layer=rats.num_layers + 1)


def test_overlays():
    img = np.full((10, 12, 3), 100, np.uint8)
    labels = np.zeros((10, 12), int)
    labels[:, 6:] = 1
    out = overlay_labels(img, labels)
    assert out.shape == img.shape and not np.array_equal(out[0, 0], out[0, 11])
    assert overlay_map(img, np.arange(6.0).reshape(2, 3)).shape == img.shape
    with pytest.raises(ValueError, match='do not match'):
        overlay_labels(img, labels[:5])
    assert stack_pictures([img, np.zeros((4, 20, 3), np.uint8)], gap=2).shape == (16, 20, 3)


def test_checkpoint_choices(tmp_path, rats):
    empty = CheckpointChoices(tmp_path / 'work_dirs', TINY)
    choice, note = empty.default()
    assert choice == empty.untrained_label and 'No trained checkpoint' in note and 'make demo' in note
    assert empty.choices() == [empty.untrained_label] and UNTRAINED in empty.untrained_label
    assert empty.load(choice) is empty.load(UNTRAINED)  # cached

    run = tmp_path / 'work_dirs' / 'run'
    run.mkdir(parents=True)
    torch.save(rats.state_dict(), run / 'epoch_1.pth')
    torch.save(rats.state_dict(), run / 'teacher_backbone.pth')
    torch.save({'optimizer': {'lr': 0.1}}, tmp_path / 'not_backbone.pth')
    assert find_checkpoints(tmp_path / 'work_dirs') == [str(run / 'teacher_backbone.pth'), str(run / 'epoch_1.pth')]
    c = CheckpointChoices(tmp_path / 'work_dirs', TINY)
    assert c.default()[0] == str(run / 'teacher_backbone.pth')
    first = c.load(str(run / 'epoch_1.pth'))
    torch.testing.assert_close(first.state_dict(), rats.state_dict())
    # a rewritten file is read again
    other = untrained_backbone(TINY, seed=1)
    torch.save(other.state_dict(), run / 'epoch_1.pth')
    os.utime(run / 'epoch_1.pth', ns=(1, 10**18))
    torch.testing.assert_close(c.load(str(run / 'epoch_1.pth')).state_dict(), other.state_dict())
    for path, words in [(tmp_path / 'nope.pth', 'does not exist'), (tmp_path, 'is a folder'), ('', 'no path'),
                        (tmp_path / 'not_backbone.pth', 'not_backbone.pth')]:
        with pytest.raises(BackboneLoadError, match=words):
            c.add(str(path))
    assert c.add(str(run / 'teacher_backbone.pth')) == str(run / 'teacher_backbone.pth')
    assert c.choices()[0] == str(run / 'teacher_backbone.pth') and c.default()[0] == c.choices()[0]


def test_sample_photo():
    assert sample_photo('flower').shape[-1] == 3 and 'china' in sample_photo_names()
    with pytest.raises(ValueError, match='choose one of'):
        sample_photo('nope')

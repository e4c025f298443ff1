"""mmrats.evaluation.token_diagnostics_{data,run,report} and mmrats.visualization.token_pictures: what
tools/analysis/token_diagnostics.py does not check one by one."""
import numpy as np
import pytest
import torch

from mmrats.evaluation.token_diagnostics_data import DiagnosticImages, part_objects_images
from mmrats.evaluation.token_diagnostics_report import TABLE_HEAD, fmt, row_markdown, table_markdown
from mmrats.evaluation.token_diagnostics_run import masking_test, norm_summary, norms_of, pib_of, token_features
from mmrats.models import RATSViT
from mmrats.models.utils import LaStViTAggregation
from mmrats.utils.images import IMAGENET_MEAN, IMAGENET_STD
from mmrats.visualization.token_pictures import draw_norm_histograms, draw_token_maps


@pytest.fixture(scope='module')
def data():
    return part_objects_images(3, 'test', 0, 32)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return RATSViT(arch='tiny', mode='rats', img_size=32, patch_size=8).eval()


def test_images_normalise_as_the_configs(data):
    x = data.tensor(slice(1, 3))
    want = (data.images[1:3].astype(np.float32) - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD,
                                                                                                 np.float32)
    assert x.shape == (2, 3, 32, 32)
    np.testing.assert_allclose(x.numpy(), want.transpose(0, 3, 1, 2), rtol=1e-6)
    assert len(data) == 3 and data.parts.shape == (3, 32, 32) and data.categories.shape == (3,)


def test_features_in_batches_equal_one_batch_and_masking_changes_them(data, model):
    lv = LaStViTAggregation(top_k=4)
    a = token_features(model, data, 'registers', lv, batch=1)
    b = token_features(model, data, 'registers', lv, batch=3)
    torch.testing.assert_close(a['g'], b['g'])
    assert a['scores'].shape == a['votes'].shape == (3, 16) and tuple(a['hw']) == (4, 4)
    idx = torch.zeros(3, 1, dtype=torch.long)
    m = token_features(model, data, 'registers', lv, batch=3, masked=(idx, 8))
    assert not torch.allclose(m['g'], b['g'])
    summary, f = pib_of(model, data, 'registers', lv, batch=2)
    assert summary['images'] == 3 and f['top'].shape == (3,) and 0 <= summary['pib'] <= 100


def test_norm_summary_with_a_fixed_threshold(data, model):
    norms = norms_of(model, data, batch=2)
    assert norms['patches'].shape == (3, 3, 16) and norms['cls'] is None
    rows = norm_summary(norms, threshold=0.0)
    assert [r['layer'] for r in rows] == ['block 1', 'block 2', 'output (post-norm)']
    assert all(r['outliers']['share'] == 1.0 and r['outliers']['rule'] == 'fixed' for r in rows)
    assert rows[0]['patch_max'] >= rows[0]['patch_p99'] >= rows[0]['patch_mean'] > 0


def test_masking_test_reports_every_choice(data, model):
    lv = LaStViTAggregation(top_k=4)
    train = part_objects_images(6, 'train', 0, 32)
    f = token_features(model, data, 'registers', lv, batch=3)
    m = masking_test(model, train, data, f['scores'], f['g'], 'registers', lv, 0.25, 3, batch=3)
    assert m['num_masked'] == 4 and all(0 <= m[k] <= 100 for k in ('clean', 'top', 'bottom', 'random'))


def test_report_rows_without_coco_or_parts():
    layer = dict(outliers=dict(share=0.05))
    res = dict(name='n', global_repr='cls', norms={'part-objects': [layer, layer, layer]},
               pib={'part-objects': dict(pib=50.0, pib_chance=25.0, vote_share_in_boxes=40.0)},
               masking=dict(clean=60.0, top=55.0, bottom=30.0, random=58.0), parts=None)
    row = row_markdown(res)
    assert row == '| n | cls | 5.0 | 50.0 (25.0) | 40.0 | - | 60.0 | -5.0 | -30.0 | -2.0 | - |'
    assert table_markdown([res, res]).splitlines() == TABLE_HEAD.splitlines() + [row, row]
    assert fmt(None) == fmt(float('nan')) == '-' and fmt(1.25, '.2f') == '1.25'


def test_pictures_are_drawn(data):
    rng = np.random.default_rng(0)
    norms = dict(patches=rng.lognormal(size=(3, 2, 16)), registers=rng.lognormal(size=(3, 2, 4)), cls=None)
    layers = [dict(layer=f'l{i}', outliers=dict(threshold=1.0 if i else None, share=0.1)) for i in range(3)]
    pic = draw_norm_histograms(norms, layers, 'title')
    assert pic.dtype == np.uint8 and pic.shape == (208, 768, 3) and pic.std() > 5  # 3 x 2.6 by 3.2 in at 80 dpi
    maps = rng.random((2, 4, 4))
    pic = draw_token_maps(data.images[:2], data.boxes[:2], maps, maps, maps, [0, 5], 8, 'maps')
    assert pic.shape == (400, 800, 3) and pic.std() > 5

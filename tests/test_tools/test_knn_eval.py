"""DINO's k-NN protocol: mmrats.evaluation.knn against DINO's classifier written out from its definition, and
tools/analysis/knn_eval.py on a tiny ImageFolder against features computed by hand."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmrats.evaluation.knn import knn_classify
from mmrats.models import RATSViT
from mmrats.utils.images import center_crop, normalize
from tests.conftest import load_tool

knn_tool = load_tool('tools/analysis/knn_eval.py')


def dino_knn(train, train_labels, test, test_labels, k, temperature, num_classes):
    """DINO's eval_knn.knn_classifier, from its definition: one-hot neighbour labels weighted by exp(sim / T),
    summed; the classes sorted by weight; top-1 and top-5 hits (a class without a vote, which DINO's sort places
    by the order of equal zeros, is no hit: mmrats.evaluation.knn's one change)."""
    train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    sim = test @ train.T
    dist, idx = sim.topk(k, largest=True, sorted=True)
    one_hot = torch.zeros(len(test), k, num_classes)
    one_hot.scatter_(2, train_labels[idx].unsqueeze(-1), 1)
    probs = (one_hot * (dist / temperature).exp().unsqueeze(-1)).sum(1)
    weight, pred = probs.sort(1, descending=True)
    correct = (pred == test_labels[:, None]) & (weight > 0)
    return 100 * correct[:, :1].sum().item() / len(test), 100 * correct[:, :min(5, k)].sum().item() / len(test)


def test_knn_classify_is_dinos_classifier():
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(7, 16, generator=gen)
    train_labels = torch.arange(70) % 7
    test_labels = torch.randint(0, 7, (33,), generator=gen)
    train = centres[train_labels] + 1.5 * torch.randn(70, 16, generator=gen)
    test = centres[test_labels] + 1.5 * torch.randn(33, 16, generator=gen)
    for k, t in ((20, 0.07), (5, 0.5), (1, 0.07)):
        got = knn_classify(train, train_labels, test, test_labels, k, t, num_classes=7, chunk=10)
        top1, top5 = dino_knn(train, train_labels, test, test_labels, k, t, 7)
        assert (got['top1'], got['top5']) == pytest.approx((top1, top5)), k
    assert 0 < got['top1'] < 100  # a case where the classifier is not trivially right or wrong


def write_folder(root, classes=('red', 'green', 'blue'), per_split=(('train', 3), ('val', 2))):
    colours = dict(red=(200, 30, 30), green=(30, 200, 30), blue=(30, 30, 200), grey=(120, 120, 120))
    rng = np.random.default_rng(0)
    for split, n in per_split:
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = np.clip(np.array(colours[c]) + rng.normal(0, 40, (30, 40, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / split / c / f'{i}.png')


def test_the_tool_measures_what_the_protocol_says(tmp_path):
    write_folder(tmp_path / 'data')
    torch.manual_seed(0)
    rats = RATSViT(arch='tiny', img_size=32).eval()
    torch.save(dict(state_dict=rats.state_dict(), meta=dict(backbone=dict(type='mmrats.RATSViT', arch='tiny',
                                                                            img_size=32))), tmp_path / 'b.pth')
    out = tmp_path / 'out'
    assert knn_tool.main([str(tmp_path / 'b.pth'), '--data-root', str(tmp_path / 'data'), '--img-size', '32',
                          '--k', '4', '--out-dir', str(out), '--device', 'cpu']) == 0
    res = json.loads((out / 'results.json').read_text())
    assert (res['num_train'], res['num_test'], res['num_classes'], res['k']) == (9, 6, 3, 4)

    classes = sorted(d.name for d in (tmp_path / 'data' / 'train').iterdir())

    def feats(split):  # by hand: DINO's centre view, the registers' mean
        paths = sorted((tmp_path / 'data' / split).glob('*/*.png'))
        with torch.no_grad():
            x = normalize(np.stack([center_crop(p, 32) for p in paths]))
            f = rats.forward_features(x)['registers'].mean(1)
        return f, torch.tensor([classes.index(p.parent.name) for p in paths])

    (tr, trl), (te, tel) = feats('train'), feats('val')
    assert (res['top1'], res['top5']) == pytest.approx(dino_knn(tr, trl, te, tel, 4, 0.07, 3))


def test_centre_view():
    img = np.zeros((200, 300, 3), np.uint8)
    img[:, 150:] = 255  # right half white
    view = center_crop(img, 224)  # shorter side 256 -> 384 x 256, the central 224 x 224
    assert view.shape == (224, 224, 3)
    assert view[:, :100].max() < 30 and view[:, 124:].min() > 225  # the edge stays in the middle


@pytest.mark.parametrize('change, message', [
    (dict(data_root='nope'), "image folder"),
    (dict(val_classes=('red', 'green', 'grey')), 'same class folders'),
    (dict(k='0'), '--k must be >= 1'),
    (dict(checkpoint='missing.pth'), 'does not exist'),
])
def test_bad_input_is_one_line(tmp_path, capsys, change, message):
    write_folder(tmp_path / 'data', per_split=(('train', 1),))
    write_folder(tmp_path / 'data', classes=change.get('val_classes', ('red', 'green', 'blue')),
                 per_split=(('val', 1),))
    torch.save(dict(state_dict=RATSViT(arch='tiny', img_size=32).state_dict(),
                    meta=dict(backbone=dict(type='mmrats.RATSViT', arch='tiny', img_size=32))), tmp_path / 'b.pth')
    argv = [str(tmp_path / change.get('checkpoint', 'b.pth')), '--data-root',
            str(tmp_path / change.get('data_root', 'data')), '--img-size', '32', '--k', change.get('k', '2'),
            '--out-dir', str(tmp_path / 'o'), '--device', 'cpu']
    assert knn_tool.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1 and message in err, err
    assert not (tmp_path / 'o').exists()  # nothing written on bad input

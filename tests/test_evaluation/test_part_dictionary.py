"""The part dictionary (paper §4.4, App. C): register parts, labelling, purity, TF-IDF, retrieval, heatmaps,
K-means, against hand-made cases and scikit-learn."""
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from mmrats.evaluation.dictionary import (PartDictionary, bag_of_entries, cell_label_area, collect_records,
                                          dictionary_scores, evaluate_dictionary, kmeans_entries, label_entries,
                                          nearest_entry, part_heatmaps, part_objects_split,
                                          register_features_and_attention, register_parts, retrieval_scores, tfidf)
from mmrats.evaluation.dictionary.retrieval import _average_precision
from mmrats.evaluation.part_segmentation import register_attention_maps
from mmrats.models import RATSViT


def test_register_parts_hand_made():
    # 4x4 image, 2x2 grid of 2x2 cells; labels: 0 background, 1 head, 2 leg, -1 ignored
    lab = torch.tensor([[1, 1, 0, 0],
                        [1, 1, 0, 2],
                        [0, 0, 2, 2],
                        [0, -1, 2, 2]])[None]
    area = cell_label_area(lab, (2, 2), 3)
    assert area[0].tolist() == [[0, 4, 0], [3, 0, 1], [3, 0, 0], [0, 0, 4]]
    attn = torch.tensor([[[0.7, 0.1, 0.1, 0.1],     # on the head cell
                          [0.1, 0.1, 0.1, 0.7],     # on the leg cell
                          [0.1, 0.45, 0.35, 0.1],   # peak on a background cell
                          [0.25, 0.25, 0.25, 0.25],    # uniform: mean in every mask is 0.25 -> lowest id
                          [0.34, 0.30, 0.30, 0.06]]])  # the mean, not the sum, inside a mask decides
    part, fg = register_parts(attn, area, cell_pixels=4)
    # mean attention inside the masks of register 2: bg (3*.45+3*.35)/6 = .4, head .1, leg (.45+4*.1)/5 = .17
    # register 4: head .34 > background .30 > leg .12 (summed attention would pick the background: 1.8 > 1.36)
    assert part[0].tolist() == [1, 2, 0, 0, 1]
    assert fg[0].tolist() == [True, True, False, True, True]  # register 3 peaks on cell 0 (first of the ties)


def test_register_parts_edge_cases():
    lab = torch.full((1, 4, 4), -1)
    part, fg = register_parts(torch.full((1, 2, 4), 0.25), cell_label_area(lab, (2, 2), 3), cell_pixels=4)
    assert part.tolist() == [[-1, -1]] and not fg.any()
    # a peak cell half on a part is not "inside" it (more than half is needed)
    lab = torch.tensor([[1, 1], [0, 0]])[None]
    _, fg = register_parts(torch.ones(1, 1, 1), cell_label_area(lab, (1, 1), 2), cell_pixels=4)
    assert not fg.any()
    with pytest.raises(ValueError, match=r'part labels must lie in \[0, 3\)'):
        cell_label_area(torch.full((1, 4, 4), 3), (2, 2), 3)
    with pytest.raises(ValueError, match='whole number of patch cells'):
        cell_label_area(torch.zeros(1, 5, 4, dtype=torch.long), (2, 2), 3)


def test_labelling_votes_purity_and_dropped_entries():
    # entry 0: parts 1,1,1,2 -> part 1, purity .75; entry 1: two registers -> dropped; entry 2: 2,2,2 (+ one -1)
    entry = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    part = torch.tensor([1, 1, 1, 2, 3, 3, 2, 2, 2, -1])
    names = label_entries(entry, part, num_entries=4, num_labels=4)
    assert names.label.tolist() == [1, -1, 2, -1]
    assert names.purity.tolist() == [0.75, 1.0, 1.0, 0.0]
    assert names.count.tolist() == [4, 2, 3, 0]
    s = dictionary_scores(names, entry, part)
    assert s['pw'] == pytest.approx(100 * (4 * 0.75 + 3 * 1.0) / 7)
    assert s['util'] == 50.0 and s['entries_scored'] == 2 and s['registers_scored'] == 7
    # held-out (valPw): purity against the names of the labelling split, not a new vote
    held_entry = torch.tensor([0, 0, 0, 2, 2, 2, 2, 1, 1, 1])
    held_part = torch.tensor([2, 2, 1, 2, 2, 1, 1, 3, 3, 3])
    s = dictionary_scores(names, held_entry, held_part)
    assert s['pw'] == pytest.approx(100 * (1 + 2) / 7)  # entry 1 (unnamed) is not scored
    assert s['util'] == 75.0 and s['entries_scored'] == 2


def test_tfidf_hand_made():
    # 3 images, 3 entries: entry 0 in every image (idf 0), entry 1 in one image, entry 2 in two
    image = torch.tensor([0, 0, 0, 1, 1, 2])
    entry = torch.tensor([0, 1, 1, 0, 2, 0])
    counts = bag_of_entries(image, entry, 3, 3)
    assert counts.tolist() == [[1, 2, 0], [1, 0, 1], [1, 0, 0]]
    v = tfidf(counts)
    assert v[0].tolist() == pytest.approx([0.0, 1.0, 0.0])  # 2 log 3, normalised
    assert v[1].tolist() == pytest.approx([0.0, 0.0, 1.0])
    assert v[2].tolist() == [0.0, 0.0, 0.0]  # only the everywhere-entry: a zero vector, not nan
    counts = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    w = torch.tensor([2 * math.log(2), math.log(2), 0.0])
    assert tfidf(counts)[0].tolist() == pytest.approx((w / w.norm()).tolist())


def test_average_precision_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random((50, 40)) * 6) / 6  # many ties
    positive = rng.random((50, 40)) < 0.3
    positive[:, 0] = True
    ours = _average_precision(scores, positive)
    ref = [average_precision_score(positive[i], scores[i]) for i in range(50)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_retrieval_against_sklearn_and_by_hand():
    rng = np.random.default_rng(1)
    cats = rng.integers(0, 4, 60)
    cats[59] = 7  # a category with one image: no positive, skipped
    v = tfidf(torch.from_numpy(rng.poisson(1.0, (60, 12)).astype(np.float64)))
    res = retrieval_scores(v, cats, [f'c{i}' for i in range(8)])
    sim = (v @ v.T).numpy()
    aps, r1 = [], []
    for q in range(59):
        others = np.array([j for j in range(60) if j != q])
        aps.append(average_precision_score(cats[others] == cats[q], sim[q, others]))
        r1.append(cats[others[np.argmax(sim[q, others])]] == cats[q])
    assert res['map'] == pytest.approx(100 * np.mean(aps))
    assert res['r1'] == pytest.approx(100 * np.mean(r1))
    assert res['queries'] == 59 and res['skipped'] == 1 and 'c7' not in res['by_category']
    sel = cats[:59] == 2
    assert res['by_category']['c2']['map'] == pytest.approx(100 * np.mean(np.array(aps)[sel]))
    # by hand: two clean pairs and a query whose nearest other image is of another category
    v = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.6, 0.8]])
    res = retrieval_scores(v, np.array([0, 0, 1, 1, 0]))
    # AP: q0: [1 (pos), 4 (.6, pos), 2/3 (0)] -> 1; q2: 3 first -> 1; q4: 2,3 (.8, neg), then 0,1 (.6): 2/4
    assert res['map'] == pytest.approx(100 * (1 + 1 + 1 + 1 + 0.5) / 5)
    assert res['r1'] == pytest.approx(100 * 4 / 5)


def test_nearest_entry_and_ties():
    g = torch.Generator().manual_seed(0)
    x, e = torch.randn(300, 8, generator=g), torch.randn(20, 8, generator=g)
    ref = torch.cdist(x.double(), e.double()).argmin(1)
    assert torch.equal(nearest_entry(x, e), ref)
    assert nearest_entry(torch.zeros(2, 3, 2), torch.tensor([[1.0, 0.0], [0.0, 1.0]])).tolist() == [[0] * 3] * 2


def test_kmeans_recovers_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]])
    x = (centres[:, None] + 0.1 * torch.randn(3, 40, 3, generator=g)).reshape(-1, 3)
    got = kmeans_entries(x, 3, seed=0)
    match = torch.cdist(got, centres).argmin(1)
    assert sorted(match.tolist()) == [0, 1, 2]
    assert torch.cdist(got, centres).min(1).values.max() < 0.1
    with pytest.raises(ValueError, match='at least as many foreground registers as entries'):
        kmeans_entries(x[:2], 3)


def test_part_heatmaps_merge_the_registers_of_a_part():
    attn = torch.zeros(4, 2, 2)
    attn[0, 0, 0], attn[1, 1, 1], attn[2, 0, 1], attn[3] = 2.0, 4.0, 1.0, 0.5
    entry = torch.tensor([0, 1, 2, 3])
    entry_label = torch.tensor([5, 5, 0, -1])  # entries 0, 1 name part 5; 2 the background; 3 nothing
    out = part_heatmaps(entry, attn, entry_label, skip=(0,))
    assert out.parts == [5] and out.registers == [[0, 1]]
    assert out.maps[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]  # each map scaled to [0, 1], then the maximum
    assert part_heatmaps(entry, attn, entry_label).parts == [0, 5]


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    backbone = RATSViT(arch='tiny', img_size=32, patch_size=8).eval()
    return backbone, part_objects_split(6, 'test', img_size=32)


def test_records_come_from_one_pass_of_the_backbone(tiny):
    backbone, split = tiny
    images, labels = split.load([0, 1])
    from mmrats.utils.images import normalize
    x = normalize(images)
    feats, attn, hw = register_features_and_attention(backbone, x)
    torch.testing.assert_close(feats, backbone.forward_features(x)['registers'])
    torch.testing.assert_close(attn, register_attention_maps(backbone, x).flatten(2))
    rec = collect_records(backbone, split, batch_size=4)
    assert rec.features.shape == (6 * 8, 64) and rec.image.tolist() == [i for i in range(6) for _ in range(8)]
    torch.testing.assert_close(rec.features[:16], feats.reshape(16, 64))
    assert rec.part.min() >= 0 and rec.part.max() < split.num_labels


def test_dictionary_label_save_load_and_evaluate(tiny, tmp_path):
    backbone, split = tiny
    rec = collect_records(backbone, split, batch_size=6)
    d = PartDictionary(kmeans_entries(rec.features[rec.fg_peak], 4, seed=0), 'kmeans')
    with pytest.raises(ValueError, match='not labelled yet'):
        evaluate_dictionary(d, rec, split)
    named = d.label(rec, split.label_names)
    named.save(str(tmp_path / 'd.pth'))
    back = PartDictionary.load(str(tmp_path / 'd.pth'))
    assert torch.equal(back.names.label, named.names.label) and back.label_names == split.label_names
    res = evaluate_dictionary(back, rec, split)
    entry = nearest_entry(rec.features, back.entries)
    assert res['dictionary'] == dictionary_scores(named.names, entry, rec.part)
    assert res['images'] == 6 and set(res['retrieval']) == {'supercategory', 'category'}
    with pytest.raises(ValueError, match='evaluate on the dataset it was labelled on'):
        evaluate_dictionary(PartDictionary(back.entries, 'kmeans', ['a'], back.names), rec, split)

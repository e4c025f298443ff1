"""Part-segmentation metrics (paper Appendix E) against independent references and hand-made cases."""
import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from mmrats.evaluation.part_metrics import (IGNORE_INDEX, PartMetricAccumulator, adjusted_rand_index,
                                            contingency_table, many_to_one_miou, one_to_one_miou, part_scores)


# ---------------------------------------------------------------- references, written from the definitions
def naive_iou(pred, gt):
    """IoU of every (pred region, gt region) pair from boolean masks; rows/cols in increasing id order."""
    ps, gs = np.unique(pred), np.unique(gt)
    iou = np.zeros((len(ps), len(gs)))
    for i, p in enumerate(ps):
        for j, g in enumerate(gs):
            a, b = pred == p, gt == g
            iou[i, j] = (a & b).sum() / (a | b).sum()
    return iou, ps, gs


def ref_m2o(pred, gt):
    ps, gs = np.unique(pred), np.unique(gt)
    owner = {p: gs[np.argmax([((pred == p) & (gt == g)).sum() for g in gs])] for p in ps}
    ious = []
    for g in gs:
        union_pred = np.isin(pred, [p for p in ps if owner[p] == g])
        ious.append((union_pred & (gt == g)).sum() / (union_pred | (gt == g)).sum())
    return float(np.mean(ious))


def ref_o2o_scipy(pred, gt):
    iou, _, gs = naive_iou(pred, gt)
    r, c = linear_sum_assignment(-iou)
    return iou[r, c].sum() / len(gs)


def ref_o2o_brute(pred, gt):
    iou, ps, gs = naive_iou(pred, gt)
    best = 0.0
    if len(ps) >= len(gs):
        for perm in itertools.permutations(range(len(ps)), len(gs)):
            best = max(best, sum(iou[p, g] for g, p in enumerate(perm)))
    else:
        for perm in itertools.permutations(range(len(gs)), len(ps)):
            best = max(best, sum(iou[p, g] for p, g in enumerate(perm)))
    return best / len(gs)


def kept(pred, gt):
    keep = gt != IGNORE_INDEX
    return pred[keep], gt[keep]


# ---------------------------------------------------------------------------------------- random inputs
@pytest.mark.parametrize('seed', range(6))
def test_random_label_maps_match_references(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(5, 20, 2)
    num_p, num_g = rng.integers(1, 6, 2)
    # blocky maps (so regions overlap unevenly) plus noise, gt ids sparse, some pixels ignored
    pred = rng.integers(0, num_p, (h, w))
    pred[: h // 2] = rng.integers(0, num_p)
    gt = rng.choice(np.array([3, 7, 40, 41, 900])[:num_g], (h, w))
    gt[rng.random((h, w)) < 0.15] = IGNORE_INDEX
    pk, gk = kept(pred, gt)
    s = part_scores(pred, gt)
    assert s['m2o'] == pytest.approx(ref_m2o(pk, gk), abs=1e-12)
    assert s['o2o'] == pytest.approx(ref_o2o_scipy(pk, gk), abs=1e-12)
    assert s['o2o'] == pytest.approx(ref_o2o_brute(pk, gk), abs=1e-12)
    assert s['ari'] == pytest.approx(adjusted_rand_score(gk, pk), abs=1e-12)


def test_large_ids_take_the_unique_path_with_the_same_result():
    rng = np.random.default_rng(1)
    pred, gt = rng.integers(0, 5, (16, 16)), rng.integers(0, 4, (16, 16))
    big = gt * 10_000_000 + 123  # (5 x 30M) cells: np.unique path instead of the dense bincount
    assert part_scores(pred, big) == part_scores(pred, gt)
    t = contingency_table(pred, big)
    assert t.shape == (5, 4) and t.sum() == 256


# ------------------------------------------------------------------------------- hand-made known answers
HALVES = np.repeat([[0, 0, 1, 1]], 4, axis=0)  # gt: left half 0, right half 1 (4x4)
QUADRANTS = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])


def test_single_region_everywhere():
    one = np.zeros((4, 4), int)
    assert part_scores(one, one + 5) == dict(m2o=1.0, o2o=1.0, ari=1.0)


def test_single_gt_region_split_in_two_predictions():
    gt = np.zeros((4, 4), int)
    pred = (np.arange(16).reshape(4, 4) >= 12).astype(int)  # 12 pixels vs 4 pixels
    s = part_scores(pred, gt)
    assert s['m2o'] == 1.0  # both predictions map to the one region; their union is the image
    assert s['o2o'] == pytest.approx(12 / 16)  # only the larger one can be matched
    assert s['ari'] == 0.0  # one true cluster: no agreement beyond chance is possible


def test_more_predicted_than_gt_regions():
    s = part_scores(QUADRANTS, HALVES)
    assert s['m2o'] == 1.0  # quadrants 0, 2 -> left half; 1, 3 -> right half: exact unions
    assert s['o2o'] == pytest.approx(0.5)  # one quadrant per half: IoU 4/8 each
    # pairs: index 4 * C(4,2) = 24; rows 24; cols 2 * C(8,2) = 56; total C(16,2) = 120
    expected = 24 * 56 / 120
    assert s['ari'] == pytest.approx((24 - expected) / ((24 + 56) / 2 - expected))  # = 4/9
    assert s['ari'] == pytest.approx(4 / 9)


def test_fewer_predicted_than_gt_regions():
    s = part_scores(np.zeros((4, 4), int), HALVES)
    assert s['m2o'] == pytest.approx(0.25)  # maps to half 0 (tie -> lowest id): IoU 8/16; half 1 gets 0
    assert s['o2o'] == pytest.approx(0.25)
    assert s['ari'] == 0.0


def test_perfect_up_to_relabelling():
    s = part_scores(7 - QUADRANTS * 2, QUADRANTS)
    assert s == dict(m2o=1.0, o2o=1.0, ari=1.0)


def test_ignored_pixels_are_left_out():
    gt = HALVES.copy()
    gt[:, 0] = IGNORE_INDEX  # first column unlabelled
    pred = HALVES.copy()
    pred[:, 0] = 1  # wrong, but only on ignored pixels
    assert part_scores(pred, gt) == dict(m2o=1.0, o2o=1.0, ari=1.0)
    assert part_scores(pred, gt, ignore_index=None)['m2o'] < 1.0  # counted, the same pixels are wrong
    # a predicted region that lies only on ignored pixels does not exist for the metric
    pred[:, 0] = 9
    assert contingency_table(pred, gt).shape == (2, 2)
    assert part_scores(pred, gt)['o2o'] == 1.0
    assert part_scores(pred, np.full_like(gt, IGNORE_INDEX)) is None
    with pytest.raises(ValueError, match='every pixel'):
        many_to_one_miou(pred, np.full_like(gt, IGNORE_INDEX))


def test_single_metric_functions_agree_with_part_scores():
    s = part_scores(QUADRANTS, HALVES)
    assert many_to_one_miou(QUADRANTS, HALVES) == s['m2o']
    assert one_to_one_miou(QUADRANTS, HALVES) == s['o2o']
    assert adjusted_rand_index(QUADRANTS, HALVES) == s['ari']


def test_bad_inputs():
    with pytest.raises(ValueError, match='differ'):
        part_scores(np.zeros((2, 3), int), np.zeros((3, 2), int))
    with pytest.raises(TypeError, match='integer'):
        part_scores(np.zeros((2, 2)), np.zeros((2, 2), int))


def test_accumulator_averages_per_image_and_skips_all_ignored():
    acc = PartMetricAccumulator()
    acc.update(np.stack([QUADRANTS, np.zeros((4, 4), int)]), np.stack([HALVES, HALVES]))
    acc.update(QUADRANTS, np.full((4, 4), IGNORE_INDEX))
    r = acc.result()
    assert r['num_images'] == 2 and r['num_skipped'] == 1 and len(acc) == 2
    assert r['m2o'] == pytest.approx(100 * (1.0 + 0.25) / 2)
    assert r['o2o'] == pytest.approx(100 * (0.5 + 0.25) / 2)
    assert r['ari'] == pytest.approx(100 * (4 / 9 + 0.0) / 2)
    assert 'per-image' in r['averaging']

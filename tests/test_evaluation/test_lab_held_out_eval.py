"""mmrats.evaluation.lab: the part-specialisation score and per-head attention entropy."""
import numpy as np
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score

from mmrats.evaluation.lab import held_out_eval as lab_eval


def test_contingency_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    maps, parts = rng.integers(0, 6, 500), (rng.integers(0, 4, 500) + rng.integers(0, 6, 500) // 3) % 5
    counts = np.zeros((6, 5), np.int64)
    np.add.at(counts, (maps, parts), 1)
    s = lab_eval.contingency_scores(counts)
    assert s['nmi'] == pytest.approx(100 * normalized_mutual_info_score(parts, maps), abs=1e-9)
    assert s['purity'] == pytest.approx(100 * sum(counts.max(1)) / 500)
    shares = counts.sum(1) / 500
    assert s['maps_used'] == pytest.approx(np.exp(-(shares * np.log(shares)).sum()))


def test_patch_labels_take_the_majority():
    parts = np.zeros((1, 4, 4), np.int64)
    parts[0, :2, :2] = [[3, 3], [3, 0]]  # top-left patch: 3 of 4 pixels are part 3
    parts[0, 2:, 2:] = [[1, 2], [2, 2]]
    assert lab_eval.patch_labels(parts, 2).tolist() == [[[3, 0], [0, 2]]]
    with pytest.raises(ValueError, match='3 x 3 grid'):
        lab_eval.patch_labels(parts, 3)


def _held_out(n=6, size=16, grid=4, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 4, (n, grid, grid))
    parts = coarse.repeat(size // grid, 1).repeat(size // grid, 2)
    return lab_eval.HeldOut(np.zeros((n, size, size, 3), np.uint8), parts, np.zeros(n, np.int64)), coarse


@pytest.mark.parametrize('specialised', [True, False])
def test_part_specialisation_tells_part_maps_from_arbitrary_ones(monkeypatch, specialised):
    data, coarse = _held_out()
    rng, seen = np.random.default_rng(1), [0]

    def maps(backbone, x, method):  # 5 maps; with specialised=True, map c is highest exactly on part c
        b, start = x.shape[0], seen[0]
        seen[0] += b
        lab = coarse[start:start + b] if specialised else rng.integers(0, 5, (b, 4, 4))
        return torch.nn.functional.one_hot(torch.from_numpy(lab), 5).permute(0, 3, 1, 2).float()

    monkeypatch.setattr(lab_eval, 'candidate_maps', maps)
    s = lab_eval.part_specialisation(torch.nn.Identity(), data, method='registers', batch=4)
    if specialised:
        assert s['nmi'] == pytest.approx(100) and s['purity'] == pytest.approx(100)
        assert s['maps_used'] == pytest.approx(3, rel=0.2)  # parts 1-3 (background patches are left out)
    else:
        assert s['nmi'] < 15 and s['purity'] < 60

"""Sinkhorn-Knopp centering of the DINO teacher (DINOv2 §4), an option of ``mmrats.DINOHead``."""
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from mmrats.models.heads.dino_head import DINOHead, sinkhorn_knopp
from tests.conftest import free_port


def sinkhorn_transcribed(logits: np.ndarray, temp: float, iters: int) -> np.ndarray:
    """SwAV / DINOv2's algorithm written out for one group: ``logits`` (B, K) -> (B, K)."""
    q = np.exp(logits.astype(np.float64) / temp).T  # K x B
    k, b = q.shape
    q /= q.sum()
    for _ in range(iters):
        for r in range(k):
            q[r] /= q[r].sum() * k
        for c in range(b):
            q[:, c] /= q[:, c].sum() * b
    return (q * b).T


def test_matches_the_transcription_and_balances_the_batch():
    torch.manual_seed(0)
    logits = torch.randn(24, 2, 6) * 0.5
    out = sinkhorn_knopp(logits, temperature=0.1, iters=3)
    for g in range(2):
        ref = sinkhorn_transcribed(logits[:, g].numpy(), 0.1, 3)
        np.testing.assert_allclose(out[:, g].numpy(), ref, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out.sum(-1), torch.ones(24, 2))
    # with enough iterations every prototype receives the same share of the batch
    many = sinkhorn_knopp(logits, temperature=0.1, iters=200)
    torch.testing.assert_close(many.mean(0), torch.full((2, 6), 1 / 6), atol=1e-4, rtol=0)


def test_a_batch_that_picks_one_prototype_is_spread_over_all():
    """The collapse the EMA center only discourages: every sample prefers prototype 0."""
    logits = torch.randn(32, 1, 8) * 0.01
    logits[..., 0] += 1.0
    soft = F.softmax(logits / 0.04, dim=-1)
    assert soft.argmax(-1).eq(0).all()
    sk = sinkhorn_knopp(logits, temperature=0.04, iters=3)
    assert sk.argmax(-1).unique().numel() == 8  # every prototype is some sample's target
    assert sk.mean(0).max() < 0.2


def test_extreme_logits_stay_finite():
    logits = torch.tensor([[[1.0, -1.0, 0.9]], [[0.8, -1.0, 1.0]]])
    out = sinkhorn_knopp(logits, temperature=0.005, iters=3)  # exp(-400) underflows to zero
    assert torch.isfinite(out).all()


def test_head_uses_the_sinkhorn_targets():
    torch.manual_seed(1)
    head = DINOHead(out_channels=5, student_temp=0.1, teacher_temp=0.05, centering='sinkhorn_knopp')
    teacher = [torch.randn(4, 5), torch.randn(4, 5)]
    student = [torch.randn(4, 5, requires_grad=True) for _ in range(3)]
    out = head.loss(student, teacher)
    q = sinkhorn_knopp(torch.cat(teacher)[:, None], 0.05, 3)[:, 0].split(4)
    pairs = [(a, b) for b in range(3) for a in range(2) if a != b]
    want = sum(-(q[a] * F.log_softmax(student[b] / 0.1, -1)).sum(-1).mean() for a, b in pairs) / len(pairs)
    torch.testing.assert_close(out['loss'], want)
    out['loss'].backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)
    center = DINOHead(out_channels=5, student_temp=0.1, teacher_temp=0.05)
    assert not torch.allclose(center.loss(student, teacher)['loss'], out['loss'])


def test_unknown_centering_names_the_config_key():
    with pytest.raises(ValueError, match=r"model\.head\.centering"):
        DINOHead(out_channels=4, centering='sinkhorn')
    with pytest.raises(ValueError, match='sinkhorn_iters'):
        DINOHead(out_channels=4, centering='sinkhorn_knopp', sinkhorn_iters=0)


def _worker(rank: int, port: int, logits: torch.Tensor, queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        half = logits.shape[0] // 2
        queue.put((rank, sinkhorn_knopp(logits[rank * half:(rank + 1) * half], 0.1, 3).numpy()))
    finally:
        dist.destroy_process_group()


def test_two_ranks_give_the_single_process_result():
    """The normalisations run over the batch of all ranks (all-reduced sums and maximum)."""
    torch.manual_seed(2)
    logits = torch.randn(16, 1, 6)
    logits[:8] += 3.0  # the ranks' halves differ in scale: a per-rank shift would give other targets
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, logits, queue)) for r in range(2)]
    for p in procs:
        p.start()
    parts = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    np.testing.assert_allclose(np.concatenate([parts[0], parts[1]]), sinkhorn_knopp(logits, 0.1, 3).numpy(), rtol=1e-5, atol=1e-7)

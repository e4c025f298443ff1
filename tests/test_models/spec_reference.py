"""A direct, deliberately naive transcription of the model as written out in docs/method.md.

It computes everything the spec writes (full q, k, v for every token,
per-head loops, explicit zero slices, explicit softmax) and is used only to
check the efficient implementation in mmrats.
"""
import torch
import torch.nn.functional as F


def softmax_attn(a, b, c):
    return torch.softmax(a @ b.transpose(-2, -1) / a.shape[-1] ** 0.5, dim=-1) @ c


def spec_rats_attention(x, attn):
    """RATSAttn(X) (+ the parallel branch) of the spec, for X = [R; P]."""
    bsz, t, c = x.shape
    nr, h, d = attn.num_registers, attn.num_heads, attn.head_dim
    q, k, v = F.linear(x, attn.qkv.weight, attn.qkv.bias).view(bsz, t, 3, h, d).unbind(2)
    n = nr if attn.shared else nr // h
    assembled = torch.zeros(bsz, t, c, dtype=x.dtype)
    for head in range(h):
        sl = slice(head * d, (head + 1) * d)
        regs = slice(0, nr) if attn.shared else slice(head * n, (head + 1) * n)
        r1 = softmax_attn(q[:, regs, head], k[:, nr:, head], v[:, nr:, head])       # compress
        if attn.comm_qkv is None:
            r2 = softmax_attn(r1, r1, r1)                                          # communicate
        else:
            wq, wk, wv = attn.comm_qkv[head].split(d, dim=0)
            r2 = softmax_attn(r1 @ wq.T, r1 @ wk.T, r1 @ wv.T)
        p1 = softmax_attn(q[:, nr:, head], r2, r2)                                 # broadcast
        assembled[:, nr:, sl] = p1
        assembled[:, regs, sl] = r2                                                # other slices stay 0
    out = F.linear(assembled, attn.proj.weight, attn.proj.bias)
    if attn.parallel:
        if attn.parallel_qkv is not None:
            q, k, v = F.linear(x, attn.parallel_qkv.weight, attn.parallel_qkv.bias).view(bsz, t, 3, h, d).unbind(2)
        heads = [softmax_attn(q[:, nr:, i], k[:, nr:, i], v[:, nr:, i]) for i in range(h)]
        out[:, nr:] += F.linear(torch.cat(heads, dim=-1), attn.parallel_proj.weight, attn.parallel_proj.bias)
    return out

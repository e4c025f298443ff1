"""A frozen copy of RATSViT's forward as it was before the two-group fast path (issue 13).

Registers and patches as ONE tensor ``[R; P]`` through every block, concatenated
and split in every attention, register queries and output projection as
per-sample broadcast matmuls. It reads the parameters of a current model, so
the tests can compare the current implementation against it (forward and
gradients) in every mode. Only the tests use it; do not optimise it.
"""
import torch
import torch.nn.functional as F

from mmrats.models.layers import MultiheadSelfAttention, resize_pos_embed


def attend(q, k, v, fused):
    if fused:
        return F.scaled_dot_product_attention(q, k, v)
    w = ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    return w @ v


def register_queries(attn, regs):
    b, nr, c = regs.shape
    h, d = attn.num_heads, attn.head_dim
    w_q, b_q = attn.qkv.weight[:c], (attn.qkv.bias[:c] if attn.qkv.bias is not None else None)
    if attn.shared:
        return F.linear(regs, w_q, b_q).view(b, nr, h, d).transpose(1, 2)
    q = regs.view(b, h, nr // h, c) @ w_q.view(h, d, c).transpose(1, 2)
    return q if b_q is None else q + b_q.view(h, 1, d)


def register_output(attn, r2):
    b, h, nh, d = r2.shape
    c = h * d
    if attn.shared:
        return attn.proj(r2.transpose(1, 2).reshape(b, nh, c))
    out = r2 @ attn.proj.weight.view(c, h, d).permute(1, 2, 0)
    return out.reshape(b, h * nh, c) + attn.proj.bias


def register_attention(attn, x):
    """The old ``RegisterAttention.forward`` (fused or manual as ``attn.fused``)."""
    nr, fused = attn.num_registers, attn.fused
    b, t, c = x.shape
    h, d = attn.num_heads, attn.head_dim
    regs, patches = x[:, :nr], x[:, nr:]
    num_patches = t - nr
    q_p, k_p, v_p = attn.qkv(patches).view(b, num_patches, 3, h, d).permute(2, 0, 3, 1, 4)
    r1 = attend(register_queries(attn, regs), k_p, v_p, fused)
    if attn.comm_qkv is None:
        r2 = attend(r1, r1, r1, fused)
    else:
        cq, ck, cv = (r1 @ attn.comm_qkv.transpose(1, 2)).chunk(3, dim=-1)
        r2 = attend(cq, ck, cv, fused)
    p1 = attend(q_p, r2, r2, fused)
    out_p = attn.proj(p1.transpose(1, 2).reshape(b, num_patches, c))
    if attn.parallel:
        if attn.parallel_qkv is not None:
            q_p, k_p, v_p = attn.parallel_qkv(patches).view(b, num_patches, 3, h, d).permute(2, 0, 3, 1, 4)
        p2 = attend(q_p, k_p, v_p, fused)
        out_p = out_p + attn.parallel_proj(p2.transpose(1, 2).reshape(b, num_patches, c))
    return torch.cat([register_output(attn, r2), out_p], dim=1)


def mhsa(attn, x):
    b, t, c = x.shape
    q, k, v = attn.qkv(x).view(b, t, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    return attn.proj(attend(q, k, v, attn.fused).transpose(1, 2).reshape(b, t, c))


def block(blk, x):
    """The old ``Block.forward`` without drop path (eval, or drop_path_rate=0)."""
    mix = mhsa if isinstance(blk.attn, MultiheadSelfAttention) else register_attention
    x = x + blk.ls1(mix(blk.attn, blk.norm1(x)))
    return x + blk.ls2(blk.mlp(blk.norm2(x)))


def forward_features(model, x):
    """The old ``RATSViT.forward_features``: ``dict(cls_token, registers, patch_tokens)``."""
    tokens, hw = model.patch_embed(x)
    npp = int(model.with_cls_token)
    pos = resize_pos_embed(model.pos_embed, model.patch_grid, hw, npp)
    tokens = tokens + pos[:, npp:]
    b = tokens.shape[0]
    prefix = []
    if model.cls_token is not None:
        prefix.append((model.cls_token + pos[:, :1]).expand(b, -1, -1))
    if model.registers is not None:
        prefix.append(model.registers.expand(b, -1, -1))
    x = torch.cat(prefix + [tokens], dim=1)
    for blk in model.blocks:
        x = block(blk, x)
    x = model.norm(x)
    i, p = npp, model.num_prefix
    return dict(cls_token=x[:, 0] if model.with_cls_token else None,
                registers=x[:, i:p] if model.num_registers else None, patch_tokens=x[:, p:])

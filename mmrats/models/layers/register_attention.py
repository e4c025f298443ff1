"""RATS register attention: compress -> communicate -> broadcast (paper §3.2).

Notation of docs/method.md: ``N`` registers, ``L`` patches,
``H`` heads of width ``d``, ``n = N / H`` registers per head; register ``i``
belongs to head ``i // n``. For head ``h`` and the ``d``-wide slice ``h`` of
``q, k, v = X W_qkv``::

    compress     R1 = Attn(Q_R, K_P, V_P)   (n x d)   Eq. (3)
    communicate  R2 = Attn(R1,  R1,  R1)    (n x d)   Eq. (4)
    broadcast    P1 = Attn(Q_P, R2,  R2)    (L x d)   Eq. (5)

then heads are reassembled (Eq. 6) and ``W_o`` is applied to all tokens.

Efficient form (exact, tested against a direct transcription of the spec in
``tests/test_models/test_register_attention.py``):

* Registers enter attention only as queries of their own head: register keys
  and values, and the query slices of the other ``H - 1`` heads, are never
  read by the math, so they are not computed. ``Q_R`` costs ``N d C``
  multiply-adds instead of ``3 N C C`` for a full ``qkv`` of the registers.
* The reassembled register output is block-sparse: register ``i`` of head
  ``h`` is ``R2`` of head ``h`` in feature slice ``h`` and zero elsewhere, so
  ``W_o`` applied to it equals the ``C x d`` column block ``h`` of ``W_o``
  applied to ``R2`` alone. That is ``N d C`` instead of ``N C C``.

The ``shared`` ablation (paper Table 3) lets every head attend to all ``N``
registers through its own ``d`` slice of each, so it needs the registers' full
query (but still no register keys/values) and the dense ``W_o``.

The parallel full-rank branch (paper Appendix E, Eq. 8) adds MHSA among the
patches, reusing ``Q_P, K_P, V_P`` (or, as an option, its own ``qkv``), with
its own output projection initialised to zero so that the network computes the
pretrained function at the first fine-tuning step.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import attend

PARALLEL_QKV = ('shared', 'separate')


class RegisterAttention(nn.Module):
    """RATS bottleneck attention, optionally with the parallel MHSA branch.

    Parameters ``qkv`` (``C -> 3C``, with bias) and ``proj`` (``C -> C``) are
    the ViT ones, so RATS has ViT's parameter count plus registers minus
    [CLS] (paper: 21.70M vs 21.67M for -S).

    Args:
        dim: token width ``C``.
        num_heads: ``H``.
        num_registers: ``N``; must be divisible by ``H`` unless ``shared``.
        shared: every head attends to all ``N`` registers (Table 3 ablation).
        learned_communicate: give each head its own ``W_q, W_k, W_v`` in
            ``R^{d x d}`` for the communicate step (Table 3 ablation), stored
            as ``comm_qkv`` of shape ``(H, 3d, d)`` (``(out, in)`` per head).
        parallel: add the full-rank patch-patch branch (Appendix E).
        parallel_qkv: ``'shared'`` reuses the block's ``Q_P, K_P, V_P``;
            ``'separate'`` gives the branch its own ``qkv`` (copy ``qkv`` into
            it when converting a pretrained checkpoint).
        qkv_bias: bias of ``qkv``.
    """

    def __init__(self, dim: int, num_heads: int, num_registers: int, shared: bool = False,
                 learned_communicate: bool = False, parallel: bool = False,
                 parallel_qkv: str = 'shared', qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dims={dim} is not divisible by num_heads={num_heads}')
        if num_registers < 1:
            raise ValueError(f'RATS attention needs num_registers >= 1, got {num_registers}')
        if not shared and num_registers % num_heads:
            raise ValueError(
                f'num_registers={num_registers} is not divisible by num_heads={num_heads}: '
                f'RATS partitions registers across heads (n = N / H per head). Use a multiple of '
                f'{num_heads} (e.g. {num_heads * max(1, round(num_registers / num_heads))}) or shared=True.')
        if parallel_qkv not in PARALLEL_QKV:
            raise ValueError(f'parallel_qkv must be one of {PARALLEL_QKV}, got {parallel_qkv!r}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.num_registers = num_registers
        self.shared = shared
        self.fused = True
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.comm_qkv = None
        if learned_communicate:
            d = self.head_dim
            self.comm_qkv = nn.Parameter(torch.empty(num_heads, 3 * d, d))
            nn.init.trunc_normal_(self.comm_qkv, std=0.02)
        self.parallel = parallel
        self.parallel_qkv = None
        self.parallel_proj = None
        if parallel:
            if parallel_qkv == 'separate':
                self.parallel_qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
            self.parallel_proj = nn.Linear(dim, dim)
            self.reset_parallel_branch()

    @torch.no_grad()
    def reset_parallel_branch(self) -> None:
        """Initialise the parallel branch as the spec says (Appendix E, Eq. 8).

        The output projection is zero, so the branch adds nothing at step 0;
        a separate ``qkv`` starts as a copy of the bottleneck's ``qkv``.
        """
        if self.parallel_proj is None:
            return
        nn.init.zeros_(self.parallel_proj.weight)
        nn.init.zeros_(self.parallel_proj.bias)
        if self.parallel_qkv is not None:
            self.parallel_qkv.load_state_dict(self.qkv.state_dict())

    def _register_queries(self, regs: Tensor) -> Tensor:
        """Queries of the registers ``(B, N, C)``: ``(B, H, n, d)``, or ``(B, H, N, d)`` if shared."""
        b, nr, c = regs.shape
        h, d = self.num_heads, self.head_dim
        w_q, b_q = self.qkv.weight[:c], (self.qkv.bias[:c] if self.qkv.bias is not None else None)
        if self.shared:
            return F.linear(regs, w_q, b_q).view(b, nr, h, d).transpose(1, 2)
        # Partitioned: register i only needs the query slice of its head i // n. One batched matmul
        # over heads, (H, B n, C) x (H, C, d): each head's weights are read once, not once per sample.
        per_head = regs.view(b, h, nr // h, c).transpose(0, 1).reshape(h, -1, c)
        w = w_q.view(h, d, c).transpose(1, 2)
        q = torch.bmm(per_head, w) if b_q is None else torch.baddbmm(b_q.view(h, 1, d), per_head, w)
        return q.view(h, b, nr // h, d).transpose(0, 1)

    def _register_output(self, r2: Tensor) -> Tensor:
        """``W_o`` on the reassembled register outputs ``r2`` ``(B, H, n, d)``: ``(B, N, C)``."""
        b, h, nh, d = r2.shape
        c = h * d
        if self.shared:
            return self.proj(r2.transpose(1, 2).reshape(b, nh, c))
        # Block-sparse: only the C x d column block of W_o of each head is used; batched over heads.
        w = self.proj.weight.view(c, h, d).permute(1, 2, 0)  # (H, d, C)
        out = torch.baddbmm(self.proj.bias.view(1, 1, c), r2.transpose(0, 1).reshape(h, -1, d), w)
        return out.view(h, b, nh, c).transpose(0, 1).reshape(b, h * nh, c)

    def _communicate_qkv(self, r1: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The learned communicate step's per-head ``W_q, W_k, W_v`` on ``r1`` ``(B, H, n, d)``."""
        b, h, nh, d = r1.shape
        qkv = torch.bmm(r1.transpose(0, 1).reshape(h, -1, d), self.comm_qkv.transpose(1, 2))  # (H, B n, 3d)
        return tuple(t.view(h, b, nh, d).transpose(0, 1) for t in qkv.chunk(3, dim=-1))

    def forward(self, x: Tensor, num_prefix: int | None = None,
                return_maps: bool = False) -> tuple[Tensor, dict[str, Tensor]]:
        """Apply RATS attention to ``x = [R; P]`` of shape ``(B, N + L, C)``.

        The layout of the spec; :meth:`forward_groups` is the same computation
        on the two token groups as separate tensors (what the backbone runs).

        Args:
            x: register tokens first, then patch tokens (after LayerNorm).
            num_prefix: the number of leading register tokens; must equal
                ``num_registers`` (checked), defaults to it.
            return_maps: use the manual path and return the attention weights
                (see :meth:`forward_groups`).

        Returns:
            The attention output ``(B, N + L, C)`` and the maps (or ``{}``).
        """
        nr = self.num_registers
        if num_prefix is not None and num_prefix != nr:
            raise ValueError(f'RegisterAttention built for {nr} registers got {num_prefix} prefix tokens')
        out_r, out_p, maps = self.forward_groups(x[:, :nr], x[:, nr:], return_maps)
        return torch.cat([out_r, out_p], dim=1), maps

    def forward_groups(self, regs: Tensor, patches: Tensor,
                       return_maps: bool = False) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Apply RATS attention to registers ``(B, N, C)`` and patches ``(B, L, C)``.

        Args:
            regs: register tokens (after LayerNorm).
            patches: patch tokens (after LayerNorm).
            return_maps: use the manual path and return the attention weights
                ``compress (B, H, n, L)``, ``communicate (B, H, n, n)``,
                ``broadcast (B, H, L, n)`` and, with the branch,
                ``parallel (B, H, L, L)``; ``n`` is ``N`` when shared.

        Returns:
            The register output ``(B, N, C)``, the patch output ``(B, L, C)``
            and the maps (or ``{}``).
        """
        if regs.shape[1] != self.num_registers:
            raise ValueError(f'RegisterAttention built for {self.num_registers} registers got '
                             f'{regs.shape[1]} register tokens')
        b, num_patches, c = patches.shape
        h, d = self.num_heads, self.head_dim
        # (B, H, L, d) views of one (B, L, 3C) projection; SDPA reads them strided.
        q_p, k_p, v_p = self.qkv(patches).view(b, num_patches, 3, h, d).permute(2, 0, 3, 1, 4)

        maps: dict[str, Tensor] = {}
        r1, maps['compress'] = attend(self._register_queries(regs), k_p, v_p, self.fused, return_maps)
        if self.comm_qkv is None:
            r2, maps['communicate'] = attend(r1, r1, r1, self.fused, return_maps)
        else:
            r2, maps['communicate'] = attend(*self._communicate_qkv(r1), self.fused, return_maps)
        p1, maps['broadcast'] = attend(q_p, r2, r2, self.fused, return_maps)
        out_p = self.proj(p1.transpose(1, 2).reshape(b, num_patches, c))

        if self.parallel:
            if self.parallel_qkv is not None:
                q_p, k_p, v_p = self.parallel_qkv(patches).view(b, num_patches, 3, h, d).permute(2, 0, 3, 1, 4)
            p2, maps['parallel'] = attend(q_p, k_p, v_p, self.fused, return_maps)
            out_p = out_p + self.parallel_proj(p2.transpose(1, 2).reshape(b, num_patches, c))

        return self._register_output(r2), out_p, (maps if return_maps else {})

"""Mask2Former with the backbone's register tokens as initial queries (paper §4.3, App. E).

Stock Mask2Former starts its transformer decoder from ``num_queries`` learned
query features (``query_feat``) with learned positional embeddings
(``query_embed``). Here the initial query features are the backbone's final
register tokens, projected to the decoder width; positional embeddings stay
learned. With ``query_source='learned'`` the head is the stock one (the
paper's parenthesised ablation).

:class:`RegisterQueryMixin` is the one implementation; it is combined with the
stock mmdet head (instance / panoptic) and the stock mmseg head (semantic) in
``mask2former_heads.py``. Everything but the source of the first query
features (pixel decoder, decoder layers, prediction heads, matching, losses,
inference) is the stock code.
"""
import torch
from torch import Tensor, nn

QUERY_SOURCES = ('registers', 'learned')


class RegisterQueryMixin:
    """Initial Mask2Former queries from register tokens; mixed into a stock head.

    Args:
        query_source: ``'registers'`` or ``'learned'`` (stock behaviour).
        register_channels: width ``C`` of the backbone's registers (needed
            for ``'registers'``).
        **kwargs: the stock head's arguments; ``num_queries`` must equal the
            backbone's number of registers for ``'registers'``.
    """

    def __init__(self, *args, query_source: str = 'registers', register_channels: int | None = None,
                 **kwargs) -> None:
        if query_source not in QUERY_SOURCES:
            raise ValueError(f'query_source must be one of {QUERY_SOURCES}, got {query_source!r}')
        if query_source == 'registers' and not register_channels:
            raise ValueError("query_source='registers' needs register_channels (the backbone's embed_dims)")
        super().__init__(*args, **kwargs)
        self.query_source = query_source
        if query_source == 'registers':
            self.query_feat = None  # replaced by the projected registers
            self.register_proj = nn.Linear(register_channels, self.query_embed.embedding_dim)

    def initial_queries(self, x) -> Tensor:
        """The decoder's first query features ``(B, num_queries, feat_channels)``."""
        b = x[0].shape[0]
        if self.query_source == 'learned':
            return self.query_feat.weight.unsqueeze(0).expand(b, -1, -1)
        registers = getattr(x, 'registers', None)
        if registers is None:
            raise ValueError("query_source='registers' found no register tokens on the head's input: use "
                             'backbone mmrats.RATSViT with registers and neck mmrats.ViTPyramidNeck (which passes '
                             "them through), or set query_source='learned'.")
        if registers.shape[1] != self.num_queries:
            raise ValueError(f'the backbone gives {registers.shape[1]} registers but the head has num_queries='
                             f'{self.num_queries}: set the head\'s num_queries to the backbone\'s num_registers '
                             "(or query_source='learned').")
        return self.register_proj(registers)

    def forward(self, x, batch_data_samples) -> tuple[list[Tensor], list[Tensor]]:
        """Mask2Former decoding (Cheng et al. 2022) from :meth:`initial_queries`.

        Returns:
            Per decoder stage (the initial queries, then every layer): class
            logits ``(B, Q, num_classes + 1)`` and mask logits ``(B, Q, h, w)``.
        """
        queries = self.initial_queries(x)
        b = queries.shape[0]
        mask_features, memories = self.pixel_decoder(x)
        levels = self.num_transformer_feat_level
        keys, key_pos = [], []
        for lvl in range(levels):
            mem = memories[lvl]
            keys.append(self.decoder_input_projs[lvl](mem).flatten(2).transpose(1, 2)
                        + self.level_embed.weight[lvl])
            no_padding = mem.new_zeros((b, *mem.shape[-2:]), dtype=torch.bool)
            key_pos.append(self.decoder_positional_encoding(no_padding).flatten(2).transpose(1, 2))
        query_pos = self.query_embed.weight.unsqueeze(0).expand(b, -1, -1)

        cls, masks, attn_mask = self._forward_head(queries, mask_features, memories[0].shape[-2:])
        cls_list, mask_list = [cls], [masks]
        for i, layer in enumerate(self.transformer_decoder.layers):
            lvl = i % levels
            # masked attention: a query whose mask covers nothing attends everywhere instead
            attn_mask = attn_mask & (attn_mask.sum(-1) != attn_mask.shape[-1]).unsqueeze(-1)
            queries = layer(query=queries, key=keys[lvl], value=keys[lvl], query_pos=query_pos,
                            key_pos=key_pos[lvl], cross_attn_mask=attn_mask, query_key_padding_mask=None,
                            key_padding_mask=None)
            cls, masks, attn_mask = self._forward_head(queries, mask_features,
                                                       memories[(i + 1) % levels].shape[-2:])
            cls_list.append(cls)
            mask_list.append(masks)
        return cls_list, mask_list

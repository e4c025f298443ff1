from .attention import MultiheadSelfAttention, attend
from .block import Block
from .drop_path import DropPath
from .layer_scale import LayerScale
from .mlp import Mlp
from .patch_embed import PatchEmbed, resize_pos_embed
from .register_attention import RegisterAttention

__all__ = ['Block', 'DropPath', 'LayerScale', 'Mlp', 'MultiheadSelfAttention', 'PatchEmbed',
           'RegisterAttention', 'attend', 'resize_pos_embed']

"""The Python API: what users and the command-line tools call (docs/python_api.md).

Backbones from any weights file the project writes or converts, untrained
copies for the baselines, teacher extraction; and, for images of any size,
features, part discovery, register maps, compress attention and token norms,
with their pictures. Image loading and normalisation are :mod:`mmrats.utils.images`.
"""
from mmrats.utils.images import IMAGENET_MEAN, IMAGENET_STD, ImageError, load_image, normalize

from .extract import extract_backbone, finetune_backbone
from .inference import (CompressAttention, PartResult, RegisterMaps, TokenNorms, compress_attention, discover_parts,
                        extract_features, register_maps, token_norms)
from .knn_eval import knn_evaluate
from .part_evaluation import evaluate_parts
from .weights import (BackboneLoadError, BackboneWeights, backbone_config, infer_backbone_config, load_backbone,
                      read_backbone_weights, untrained_backbone)

__all__ = ['IMAGENET_MEAN', 'IMAGENET_STD', 'ImageError', 'load_image', 'normalize', 'extract_backbone',
           'finetune_backbone', 'CompressAttention', 'PartResult', 'RegisterMaps', 'TokenNorms', 'compress_attention',
           'discover_parts', 'extract_features', 'register_maps', 'token_norms', 'evaluate_parts', 'knn_evaluate',
           'BackboneLoadError', 'BackboneWeights', 'backbone_config', 'infer_backbone_config', 'load_backbone',
           'read_backbone_weights', 'untrained_backbone']

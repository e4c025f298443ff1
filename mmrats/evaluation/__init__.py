"""Metrics (registered in the mmrats scope) and unsupervised part segmentation (paper Eq. 7, Appendix E)."""
from .metrics import PartDiscoveryMetric
from .part_metrics import (IGNORE_INDEX, PartMetricAccumulator, adjusted_rand_index, contingency_table,
                           many_to_one_miou, one_to_one_miou, part_scores)
from .part_segmentation import (METHODS, PartSegmentation, PartSegmenter, candidate_maps, cls_attention_maps,
                                compress_attention_maps, default_method, gaussian_smooth, rank_top_k,
                                register_attention_maps, segment_maps, similarity_maps)

__all__ = ['PartDiscoveryMetric',
           'IGNORE_INDEX', 'PartMetricAccumulator', 'adjusted_rand_index', 'contingency_table', 'many_to_one_miou',
           'one_to_one_miou', 'part_scores', 'METHODS', 'PartSegmentation', 'PartSegmenter', 'candidate_maps',
           'cls_attention_maps', 'compress_attention_maps', 'default_method', 'gaussian_smooth', 'rank_top_k',
           'register_attention_maps', 'segment_maps', 'similarity_maps']

"""The lab-scale experiment's evaluation, tables and saved results (docs/lab_scale.md)."""
from .held_out_eval import (HeldOut, attention_entropy, attention_entropy_per_head, contingency_scores, global_features,
                       held_out, knn_accuracy, part_discovery, part_specialisation, patch_labels)
from .report import label, markdown, seeds_of, time_line
from .results import merge_results, resumed

__all__ = ['HeldOut', 'attention_entropy', 'attention_entropy_per_head', 'contingency_scores', 'global_features',
           'held_out', 'knn_accuracy', 'part_discovery', 'part_specialisation', 'patch_labels', 'label', 'markdown',
           'seeds_of', 'time_line', 'merge_results', 'resumed']

"""The lab-scale experiment's evaluation, tables and saved results (docs/lab_scale.md)."""
from .held_out_eval import (DATA_VARIANTS, HeldOut, attention_entropy, attention_entropy_per_head, contingency_scores,
                            global_features, held_out, knn_accuracy, part_discovery, part_specialisation,
                            patch_labels)
from .report import CHANCE, label, markdown, near_chance, seeds_of, time_line
from .results import RECIPE, merge_results, recipe_of, resumed

__all__ = ['DATA_VARIANTS', 'HeldOut', 'attention_entropy', 'attention_entropy_per_head', 'contingency_scores',
           'global_features', 'held_out', 'knn_accuracy', 'part_discovery', 'part_specialisation', 'patch_labels',
           'CHANCE', 'label', 'markdown', 'near_chance', 'seeds_of', 'time_line', 'RECIPE', 'merge_results',
           'recipe_of', 'resumed']

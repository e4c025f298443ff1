"""The part dictionary of the registers (paper §4.4, Appendix C; docs/part_dictionary.md).

Construction (post-hoc K-means, or the learned codebook of
:class:`~mmrats.models.selfsup.RegisterCodebook`), labelling, inference
heatmaps, bag-of-entries retrieval and purity metrics; the build / label steps
(:mod:`.steps`) and the reports (:mod:`.report`) of ``tools/analysis/part_dictionary.py``.
"""
from mmrats.models.utils.entry_assignment import nearest_entry, squared_distances
from .inference import PartHeatmaps, normalise_maps, part_heatmaps
from .kmeans import default_num_entries, kmeans_entries
from .labelling import MIN_REGISTERS, EntryLabels, dictionary_scores, label_entries, vote_table, weighted_purity
from .pipeline import PartDictionary, collect_records, evaluate_dictionary, progress_lines
from .records import (BACKGROUND, RegisterRecords, batch_records, cell_label_area, register_features_and_attention,
                      register_parts)
from .report import default_name, evaluation_summary, markdown, results_table, row, write_results
from .retrieval import bag_of_entries, retrieval_scores, tfidf
from .sources import LabelledSplit, part_objects_split, partimagenet_split
from .steps import (backbone_meta, codebook_dictionary, codebook_entries, foreground_registers, kmeans_dictionary,
                    label_dictionary)

__all__ = ['nearest_entry', 'squared_distances', 'PartHeatmaps', 'normalise_maps', 'part_heatmaps',
           'default_num_entries', 'kmeans_entries', 'MIN_REGISTERS', 'EntryLabels', 'dictionary_scores',
           'label_entries', 'vote_table', 'weighted_purity', 'PartDictionary', 'collect_records',
           'evaluate_dictionary', 'progress_lines', 'BACKGROUND', 'RegisterRecords', 'batch_records', 'cell_label_area',
           'register_features_and_attention', 'register_parts', 'default_name', 'evaluation_summary', 'markdown',
           'results_table', 'row', 'write_results', 'bag_of_entries', 'retrieval_scores', 'tfidf',
           'LabelledSplit', 'part_objects_split', 'partimagenet_split', 'backbone_meta', 'codebook_dictionary',
           'codebook_entries', 'foreground_registers', 'kmeans_dictionary', 'label_dictionary']

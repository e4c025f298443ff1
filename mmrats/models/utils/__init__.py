from .candidate_maps import (METHODS, candidate_maps, check_method, cls_attention_maps, compress_attention_maps,
                             default_method, register_attention_maps, similarity_maps)
from .checkpoint_loading import (CheckpointMismatchError, check_state_dict, extract_state_dict,
                                 load_backbone_checkpoint, mismatch_report)
from .ckpt_convert import convert_rats_to_finetune, convert_vit_to_ratsvit
from .global_repr import GLOBAL_REPRS, global_vector, resolve_global_repr
from .lastvit_aggregation import (LaStViTAggregation, gaussian_lowpass, lastvit_aggregate, select_stable,
                                  stability_scores, vote_counts)

__all__ = ['CheckpointMismatchError', 'check_state_dict', 'convert_rats_to_finetune', 'convert_vit_to_ratsvit',
           'extract_state_dict', 'load_backbone_checkpoint', 'mismatch_report']
__all__ += ['LaStViTAggregation', 'gaussian_lowpass', 'lastvit_aggregate', 'select_stable', 'stability_scores',
            'vote_counts']
__all__ += ['METHODS', 'candidate_maps', 'check_method', 'cls_attention_maps', 'compress_attention_maps',
            'default_method', 'register_attention_maps', 'similarity_maps', 'GLOBAL_REPRS', 'global_vector',
            'resolve_global_repr']

from .checkpoint_loading import (CheckpointMismatchError, check_state_dict, extract_state_dict,
                                 load_backbone_checkpoint, mismatch_report)
from .ckpt_convert import convert_rats_to_finetune, convert_vit_to_ratsvit
from .lastvit_aggregation import (LaStViTAggregation, gaussian_lowpass, lastvit_aggregate, select_stable,
                                  stability_scores, vote_counts)

__all__ = ['CheckpointMismatchError', 'check_state_dict', 'convert_rats_to_finetune', 'convert_vit_to_ratsvit',
           'extract_state_dict', 'load_backbone_checkpoint', 'mismatch_report']
__all__ += ['LaStViTAggregation', 'gaussian_lowpass', 'lastvit_aggregate', 'select_stable', 'stability_scores',
            'vote_counts']

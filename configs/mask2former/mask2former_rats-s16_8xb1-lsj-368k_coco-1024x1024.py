# RATS-S/16 backbone with Mask2Former's own 100 learned queries: isolates the backbone's
# contribution (paper Table 2, parenthesised numbers).
_base_ = ['../_base_/mask2former_vit-s16_8xb1-lsj-368k_coco-1024x1024.py']

model = dict(
    backbone=dict(
        mode='rats',
        parallel_branch=True,
        # tools/model_converters/rats2finetune.py turns a RATS pretraining checkpoint into this file
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/rats-s16_dino-300e_finetune.pth')),
    panoptic_head=dict(query_source='learned', num_queries=100))

# RATS-S/16 (DINO-pretrained, parallel branch for fine-tuning) with its 96 final register
# tokens as Mask2Former's initial queries (paper Table 2).
_base_ = ['../_base_/mask2former_vit-s16_8xb1-lsj-368k_coco-1024x1024.py']

model = dict(
    backbone=dict(
        mode='rats',
        parallel_branch=True,
        # tools/model_converters/rats2finetune.py turns a RATS pretraining checkpoint into this file
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/rats-s16_dino-300e_finetune.pth')),
    panoptic_head=dict(query_source='registers', num_queries=96))

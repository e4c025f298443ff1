# The baseline: DINO ViT-S/16 (100 epochs) with Mask2Former's own 100 learned queries
# (paper Table 2).
_base_ = ['../_base_/mask2former_vit-s16_8xb1-lsj-368k_coco-1024x1024.py']

model = dict(
    backbone=dict(
        mode='mhsa',
        # tools/model_converters/vit2ratsvit.py converts the official DINO checkpoint into this file
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/vit-s16_dino-100e.pth')),
    panoptic_head=dict(query_source='learned', num_queries=100))

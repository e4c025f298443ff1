# Mask2Former instance segmentation (with boxes) on COCO 2017 with a ViT-S/16-sized mmrats
# backbone (paper §4.3, App. E): the stock mmdet recipe (1024x1024 LSJ, 368,750 iterations,
# AdamW) with batch 8 = 8 GPUs x 1. Leaf configs choose the backbone, its weights and queries.
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py']

embed_dims = 384
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmrats.RATSViT',
        arch='small',
        img_size=1024,
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.1),
    neck=dict(type='mmrats.ViTPyramidNeck', in_channels=embed_dims),
    panoptic_head=dict(
        type='mmrats.RegisterMask2FormerHead',
        in_channels=[embed_dims] * 4,
        register_channels=embed_dims))

train_dataloader = dict(batch_size=1)  # x 8 GPUs = batch 8 (paper App. E)
auto_scale_lr = dict(enable=False, base_batch_size=8)

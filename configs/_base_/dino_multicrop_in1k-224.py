# DINO multi-crop data on ImageNet-1k (paper App. E; the spec's "Pretraining objective"):
# 2 global crops of 224 (scale 0.4-1) + 10 local crops of 96 (scale 0.05-0.4), with DINO's
# per-crop augmentations: flip, colour jitter (p=0.8), grayscale (p=0.2), Gaussian blur
# (global 1: p=1.0; global 2: p=0.1; local: p=0.5) and solarization (global 2: p=0.2).
# mmpretrain's standard ImageNet layout: data/imagenet/train/<class>/<image>.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs32_byol.py']

global_crop_size = 224
local_crop_size = 96
num_local_crops = 10
global_crop_scale = (0.4, 1.0)
local_crop_scale = (0.05, 0.4)

color = [
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
]
global_view1 = [
    dict(type='RandomResizedCrop', scale=global_crop_size, crop_ratio_range=global_crop_scale,
         interpolation='bicubic', backend='pillow'),
    *color,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.0),
]
global_view2 = [
    dict(type='RandomResizedCrop', scale=global_crop_size, crop_ratio_range=global_crop_scale,
         interpolation='bicubic', backend='pillow'),
    *color,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
local_view = [
    dict(type='RandomResizedCrop', scale=local_crop_size, crop_ratio_range=local_crop_scale,
         interpolation='bicubic', backend='pillow'),
    *color,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
]
# views in this order: the DINO model takes the first 2 as the global crops
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1, num_local_crops], transforms=[global_view1, global_view2, local_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=96,  # x 8 GPUs = 768 (RATS-S)
    num_workers=10,
    drop_last=True,
    # redefined here: the inherited dict carries `_scope_`, which mmengine passes on to the function
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(pipeline=train_pipeline))

# The README's main job: the RATS register-query Mask2Former (the ADE20K recipe of
# ../mask2former/mask2former_rats-s16-regq_8xb1-160k_ade20k-512x512.py, shrunk) trained from
# scratch on the embedded synthetic scenes (ADE20K layout; tools/dataset_converters/
# make_synthetic_scenes.py) on the CPU, evaluated with mmseg's IoUMetric (mIoU).
_base_ = ['../mask2former/mask2former_rats-s16-regq_8xb1-160k_ade20k-512x512.py',
          '../_base_/demo_tiny_mask2former.py']

crop_size = (128, 128)
max_iters = 300
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone={{_base_.demo_backbone}},
    neck=dict(in_channels={{_base_.demo_embed_dims}}),
    decode_head={{_base_.demo_seg_head}})

dataset_type = 'mmrats.SyntheticSceneSegDataset'
data_root = 'data/synthetic/ade'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU: 2-process runs use gloo

# from scratch: a higher lr than fine-tuning, and no backbone lr multiplier
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=100, save_best='mIoU', max_keep_ckpts=2))
randomness = dict(seed=0)  # a reproducible demo

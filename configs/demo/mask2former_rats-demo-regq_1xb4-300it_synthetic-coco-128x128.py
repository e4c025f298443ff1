# The RATS register-query Mask2Former for instance segmentation with boxes (the COCO recipe of
# ../mask2former/mask2former_rats-s16-regq_8xb1-lsj-368k_coco-1024x1024.py, shrunk) trained from
# scratch on the embedded synthetic scenes (COCO layout) on the CPU, evaluated with mmdet's
# CocoMetric (box and mask AP).
_base_ = ['../mask2former/mask2former_rats-s16-regq_8xb1-lsj-368k_coco-1024x1024.py',
          '../_base_/demo_tiny_mask2former.py']

image_size = (128, 128)
max_iters = 300
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, img_pad_value=0, pad_mask=True,
                             mask_pad_value=0, pad_seg=False)]),
    backbone={{_base_.demo_backbone}},
    neck=dict(in_channels={{_base_.demo_embed_dims}}),
    panoptic_head={{_base_.demo_det_head}},
    panoptic_fusion_head=dict(num_things_classes=6, num_stuff_classes=0),
    test_cfg=dict(max_per_image=16))

dataset_type = 'mmrats.SyntheticSceneCocoDataset'
data_root = 'data/synthetic/coco/'
train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.5), resize_type='Resize', keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-5, 1e-5), by_mask=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU: 2-process runs use gloo

# from scratch: a higher lr than fine-tuning, and no backbone lr multiplier
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
param_scheduler = dict(_delete_=True, type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters, dynamic_intervals=None)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=100, max_keep_ckpts=2))
log_processor = dict(window_size=20)
randomness = dict(seed=0)  # a reproducible demo

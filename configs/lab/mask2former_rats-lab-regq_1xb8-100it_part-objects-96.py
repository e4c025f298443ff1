# Lab-scale Mask2Former on the part labels of the procedural part-structured objects
# (docs/lab_scale.md): 12 classes (background + 11 part types), the ADE20K-layout copy written by
# tools/dataset_converters/make_part_objects.py. The backbone is the lab RATS of
# dino_rats-lab_1xb32-2e_part-objects-64.py with the parallel full-rank branch, initialised from
# its DINO teacher (tools/lab/lab_experiment.py sets model.backbone.init_cfg); its 16 final
# registers are the initial queries. The demo Mask2Former (width 64, 1 pixel-decoder layer,
# 3 decoder layers, 1,024 sampled points), batch 8, 100 iterations, AdamW lr 2e-4, backbone lr x0.5.
_base_ = ['../demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py']

crop_size = (96, 96)
max_iters = 100
embed_dims = 96
num_classes = 12
part_classes = ('background', 'quadruped head', 'quadruped torso', 'quadruped leg', 'quadruped tail',
                'vehicle body', 'vehicle window', 'vehicle wheel', 'bird head', 'bird body', 'bird wing',
                'bird tail')
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=embed_dims, num_heads=4, num_layers=4, mlp_ratio=4.0,
                  num_registers=16),
        patch_size=8, img_size=96, out_indices=(0, 1, 2, 3), parallel_branch=True, init_cfg=None),
    neck=dict(in_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, register_channels=embed_dims, num_queries=16,
                     num_classes=num_classes, loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))

dataset = dict(type='BaseSegDataset', metainfo=dict(classes=part_classes), data_root='data/part_objects/ade',
               img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(dataset, _delete_=True, data_prefix=dict(img_path='images/train', seg_map_path='annotations/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(dataset, _delete_=True, data_prefix=dict(img_path='images/test', seg_map_path='annotations/test'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# fine-tuning from the DINO teacher
optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.5, decay_mult=1.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_iters, save_best=None, max_keep_ckpts=1))

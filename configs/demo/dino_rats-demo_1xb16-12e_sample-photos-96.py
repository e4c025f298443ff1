# Demo: DINO pretraining of the tiny RATS of the demo Mask2Former configs (4 blocks, C=64, 4 heads,
# 16 registers) on the 17 photographs scikit-image and scikit-learn ship
# (mmrats.datasets.sample_photos; written to data/sample_photos by tools/demo/dino_demo.py), on the
# CPU in minutes. The recipe of ../dino/dino_rats-s16_8xb96-300e_in1k-224.py, shrunk: 2 global crops
# of 96 + 6 local crops of 48, 256 prototypes, 12 epochs of 8 iterations (the photos repeated 8x per
# epoch, batch 16), lr 2e-4. Changed for this scale (measured, docs/pretraining.md): the teacher
# temperature stays at 0.01 (the recipe's warm-up 0.04 -> 0.07 drifted to a uniform teacher on 17
# photos; 0.02 let the loss climb back to its start), and the EMA momentum starts at 0.99.
_base_ = ['../dino/dino_rats-s16_8xb96-300e_in1k-224.py', '../_base_/demo_tiny_mask2former.py']

global_crop_size = 96
local_crop_size = 48
num_local_crops = 6
max_epochs = 12
warmup_epochs = 2
out_channels = 256

color = [  # as the base config's
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
]
global_view1 = [
    dict(type='RandomResizedCrop', scale=global_crop_size, crop_ratio_range=(0.4, 1.0),
         interpolation='bicubic', backend='pillow'),
    *color,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.0),
]
global_view2 = [
    dict(type='RandomResizedCrop', scale=global_crop_size, crop_ratio_range=(0.4, 1.0),
         interpolation='bicubic', backend='pillow'),
    *color,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
local_view = [
    dict(type='RandomResizedCrop', scale=local_crop_size, crop_ratio_range=(0.05, 0.4),
         interpolation='bicubic', backend='pillow'),
    *color,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1, num_local_crops], transforms=[global_view1, global_view2, local_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=8,
        dataset=dict(type='CustomDataset', data_root='data/sample_photos', with_label=False,
                     pipeline=train_pipeline)))

# The recipe this config's recorded runs were measured with (docs/pretraining.md, docs/lab_scale.md), kept
# when the ImageNet configs were traced to DINO's runs (issue #24): a weight-normalised last layer, and no
# weight decay on the registers, [CLS] and the position embeddings besides biases and norms.
recorded_paramwise_cfg = dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                              custom_keys={'registers': dict(decay_mult=0.0), 'cls_token': dict(decay_mult=0.0),
                                           'pos_embed': dict(decay_mult=0.0)})
model = dict(
    backbone=dict(arch={{_base_.demo_backbone.arch}}, img_size=global_crop_size, drop_path_rate=0.0),
    neck=dict(in_channels={{_base_.demo_embed_dims}}, out_channels=out_channels, hidden_channels=256,
              bottleneck_channels=64, norm_last_layer=True),
    head=dict(out_channels=out_channels))

optim_wrapper = dict(type='OptimWrapper', _delete_=True,
                     constructor='mmrats.TeacherFreeOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.04),
                     paramwise_cfg=recorded_paramwise_cfg)
# lr 2e-4 is written for this config's own batch, 16 in one process, and is used as written (the
# base's DINO scaling from 768 would divide it by 48; the recorded runs of this config did not scale);
# --auto-scale-lr scales it from batch 16.
auto_scale_lr = dict(enable=False, base_batch_size=16)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-5, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    dict(type='mmrats.DINOTeacherHook', teacher_temp=0.01, warmup_teacher_temp=0.01, warmup_epochs=0,
         base_momentum=0.99, end_momentum=1.0),
    dict(type='mmrats.FreezeLastLayerHook', freeze_epochs=1, prefix='neck.last_layer'),
]
default_hooks = dict(logger=dict(interval=8),
                     checkpoint=dict(interval=4, max_keep_ckpts=2, save_best=None, rule=None))
# no validation during the demo's pretraining (the ImageNet configs validate part discovery on PartImageNet):
# the demo evaluates part discovery once, after extraction (tools/demo/dino_demo.py)
val_dataloader = val_evaluator = val_cfg = None
optional_val = False
log_processor = dict(window_size=8)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

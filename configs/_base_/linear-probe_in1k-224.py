# DINO's linear evaluation on ImageNet-1k: a linear classifier on the frozen features of a DINO-pretrained
# backbone (mmpretrain's ImageClassifier). Every value is DINO's (facebookresearch/dino, eval_linear.py with
# its argument defaults, run as its README says: "on a single node with 8 gpus"):
#   backbone   frozen, eval mode (model.eval(), no drop path), no gradient through it
#   features   the final LayerNorm applied to each of the last n blocks, their [CLS] concatenated
#              (--n_last_blocks, default 4), + the mean of the last block's patch tokens if
#              --avgpool_patchtokens (default false); RATS: the registers' mean instead of [CLS]
#              (mmrats.LinearProbeRATSViT; the child configs set n and the pooling per model)
#   classifier one nn.Linear, weights normal(0, 0.01), bias 0, no batch norm (LinearClassifier)
#   optimizer  SGD, momentum 0.9, weight decay 0; lr 0.001 (--lr) x total batch / 256, cosine to 0 over
#              --epochs 100, stepped once per epoch (CosineAnnealingLR(T_max=epochs, eta_min=0))
#   batch      --batch_size_per_gpu 128 x 8 GPUs = 1024 -> lr 0.004
#   train data RandomResizedCrop(224) (torchvision defaults: scale 0.08-1, ratio 3/4-4/3, bilinear) +
#              RandomHorizontalFlip; ImageNet mean / std
#   val data   Resize(256, interpolation=3) = shorter side 256, bicubic; CenterCrop(224)
#   metric     top-1 / top-5 on ImageNet val after every epoch (--val_freq 1); DINO reports the best epoch
# The lr follows DINO's linear rule on any number of GPUs: auto_scale_lr (base 1024) makes the lr
# 0.004 x (GPUs x batch per GPU) / 1024 = 0.001 x total / 256. DINO's --lr help adds: "We recommend
# tweaking the LR depending on the checkpoint evaluated"; the lr here is its default.
# Data: data/imagenet/{train,val}/<class>/*.JPEG (DINO's ImageFolder layout), or mmpretrain's ImageNet
# layout with meta/{train,val}.txt.
_base_ = ['mmpretrain::_base_/default_runtime.py']

# The config brings its own modules (see configs/_base_/dino_rats-s16_in1k-224.py).
custom_imports = dict(imports=['mmrats'], allow_failed_imports=False)

batch_per_gpu = 128
num_gpus = 8
total_batch = batch_per_gpu * num_gpus  # 1024
max_epochs = 100

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=1000, mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),  # ImageNet mean / std of DINO's Normalize
    # the child configs complete it: arch, mode, n_last_blocks, avgpool_patchtokens, init_cfg
    backbone=dict(type='mmrats.LinearProbeRATSViT', img_size=224, global_repr='auto'),
    head=dict(type='LinearClsHead', num_classes=1000,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5),
              init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0.0)))

dataset_type = 'ImageNet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0), aspect_ratio_range=(3. / 4., 4. / 3.),
         backend='pillow', interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=10,  # DINO's --num_workers
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root='data/imagenet', split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root='data/imagenet', split='val', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# Only the head has parameters that train (the backbone's have requires_grad=False and no gradient).
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.001 * total_batch / 256, momentum=0.9, weight_decay=0.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True, begin=0,
                        end=max_epochs)]
auto_scale_lr = dict(enable=True, base_batch_size=total_batch)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # the last epoch and the best by top-1 (what DINO reports: "Max accuracy so far")
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_best='accuracy/top1',
                    rule='greater'))

# DINO's official vanilla run: ViT-S/16 for 100 epochs on 8 GPUs x 64 (DINO README, "Vanilla DINO
# training": main_dino.py --arch vit_small with every other argument at its default), which DINO reports
# at 69.3 % k-NN and 74.0 % linear (logs published, no checkpoint). Its arguments, reproduced here:
# batch 512, AdamW, lr 5e-4 x 512/256 with 10 warm-up epochs then cosine to 1e-6, weight decay cosine
# 0.04 -> 0.4 (none on biases and norms), teacher EMA 0.996 -> 1, 65536 prototypes with a
# weight-normalised last layer (norm_last_layer=True) frozen for 1 epoch, teacher temperature 0.04 for
# the whole run (--teacher_temp 0.04, --warmup_teacher_temp 0.04, --warmup_teacher_temp_epochs 0),
# student temperature 0.1, center momentum 0.9, drop path 0.1, gradient clipping 3.0 per parameter
# tensor (DINO's clip_gradients), 2 global crops 224 (scale 0.4-1) + 8 local crops 96 (0.05-0.4),
# fp16 mixed precision with dynamic loss scaling. Use it to check this DINO against DINO's own numbers;
# the paper-recipe baseline is dino_vit-s16_8xb96-100e_in1k-224.py. One difference remains: mmengine's
# linear warm-up starts at 1e-4 x lr (LinearLR cannot start at 0), DINO's at 0.
_base_ = ['../_base_/dino_rats-s16_in1k-224.py']

max_epochs = 100
warmup_epochs = 10
num_local_crops = 8
model = dict(
    backbone=dict(mode='mhsa', num_registers=0, drop_path_rate=0.1),
    neck=dict(norm_last_layer=True))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1, num_local_crops],
         transforms=[{{_base_.global_view1}}, {{_base_.global_view2}}, {{_base_.local_view}}]),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))  # x 8 GPUs = 512
optim_wrapper = dict(
    dtype='float16',  # DINO: --use_fp16 true (torch.cuda.amp with a GradScaler)
    optimizer=dict(lr=5e-4 * 512 / 256),
    clip_grad=dict(_delete_=True, type='per_tensor', max_norm=3.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    dict(type='mmrats.DINOTeacherHook', teacher_temp=0.04, warmup_teacher_temp=0.04, warmup_epochs=0,
         base_momentum=0.996, end_momentum=1.0),
    dict(type='mmrats.FreezeLastLayerHook', freeze_epochs=1, prefix='neck.last_layer'),
    {{_base_.knn_validation}},  # the base's k-NN validation (every 10 epochs, subset)
]
auto_scale_lr = dict(base_batch_size=512)

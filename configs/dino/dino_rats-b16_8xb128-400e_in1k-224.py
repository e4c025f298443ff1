# RATS-B/16 (192 registers over 12 heads) with the DINO ViT-B/16 recipe (paper App. E: "fully aligns
# with the official DINO ViT-B hyperparameters", i.e. the arguments DINO released with its ViT-B/16
# checkpoint): 400 epochs, batch 1024 = 8 GPUs x 128, lr 7.5e-4 x 1024/256, min lr 2e-6, drop path 0.1,
# gradient clipping 0.3 per parameter tensor (DINO's clip_gradients: each tensor's gradient norm
# clipped to 0.3 on its own; before issue #24 this was one norm over the whole model, far stronger),
# teacher temperature 0.04 -> 0.07 warmed up over 50 epochs, last layer frozen for 3 epochs and
# weight-normalised (DINO ViT-B: norm_last_layer=True; the RATS-S base sets False). The rest is the
# base's; every value with its source: docs/pretraining.md, "The recipe, value by value".
_base_ = ['../_base_/dino_rats-s16_in1k-224.py']

embed_dims = 768
max_epochs = 400
warmup_epochs = 10
# Memory (tools/analysis/memory_estimate.py, docs/benchmarks.md): 128 images per GPU of 2 x 224 + 10 x 96
# crops with 192 registers each need about 104 GiB per GPU in bf16 without checkpointing; recomputing the
# first 6 of the 12 blocks in the backward pass (with_cp=6: the same gradients, about 1/6 more compute)
# brings the prediction to 60 GiB, leaving a margin on an 80 GB GPU (first 4 blocks: 74.5 GiB, too close
# for a prediction measured on the CPU). The batch stays 128 per GPU: gradient accumulation would change
# DINO's per-iteration teacher update and centering.
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.1, with_cp=6),
    neck=dict(in_channels=embed_dims, norm_last_layer=True))
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(optimizer=dict(lr=7.5e-4 * 1024 / 256),
                     clip_grad=dict(_delete_=True, type='per_tensor', max_norm=0.3))  # DINO's ViT-B/16: 0.3
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=2e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    dict(type='mmrats.DINOTeacherHook', teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_epochs=50,
         base_momentum=0.996, end_momentum=1.0),
    dict(type='mmrats.FreezeLastLayerHook', freeze_epochs=3, prefix='neck.last_layer'),
    {{_base_.knn_validation}},  # the base's k-NN validation (every 10 epochs, subset)
]
auto_scale_lr = dict(base_batch_size=1024)  # the lr's batch; DINO's rule scales it (7.5e-4 x total / 256)

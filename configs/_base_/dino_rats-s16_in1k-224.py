# DINO pretraining of RATS-S/16 (paper §3.1, App. E): 300 epochs, batch 768 = 8 GPUs x 96, AdamW,
# lr 5e-4 x 768/256 with 10 warm-up epochs then cosine to 1e-5, weight decay cosine 0.04 -> 0.4
# (none on biases and norms: DINO's rule), teacher EMA 0.996 -> 1 (cosine, every iteration), 65536
# prototypes, teacher temperature 0.04 -> 0.07 over 30 epochs, student temperature 0.1, center
# momentum 0.9, drop path 0.05, no gradient clipping, last layer frozen for 1 epoch and not
# weight-normalised (norm_last_layer=False), bf16 mixed precision.
# Where the paper gives a value it is used; where it is silent (or its number was lost), DINO's
# 300-epoch ViT-S/16 run decides (DINO README, "Boosting DINO performance": --epochs 300
# --teacher_temp 0.07 --warmup_teacher_temp_epochs 30 --norm_last_layer false, the rest main_dino.py's
# defaults). Every value with its source: docs/pretraining.md, "The recipe, value by value".
_base_ = ['./dino_multicrop_in1k-224.py', 'mmpretrain::_base_/default_runtime.py', './part-val_partimagenet-512.py']

# The config brings its own modules: `custom_imports` imports mmrats when the config is read, so the
# stock entry points (MMSegInferencer, DetInferencer, init_model, mmpretrain.get_model, ...) have the mmrats
# registries and its torch >= 2.6 checkpoint allow-list (mmrats/utils/torch_compat.py) before they read a
# checkpoint. Set here in each of the 3 bases every config inherits (not in a shared file):
# mmengine refuses a key that two sibling bases both set, and mmseg's Mask2Former base sets this one.
custom_imports = dict(imports=['mmrats'], allow_failed_imports=False)

embed_dims = 384
max_epochs = 300
warmup_epochs = 10
base_lr = 5e-4 * 768 / 256
model = dict(
    type='mmrats.DINO',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='mmrats.RATSViT', arch='small', mode='rats', img_size=224, drop_path_rate=0.05),
    neck=dict(type='mmrats.DINONeck', in_channels=embed_dims, out_channels=65536, hidden_channels=2048,
              bottleneck_channels=256, num_layers=3,
              # DINO's 300-epoch ViT-S/16 run: --norm_last_layer false (was True here before issue #24)
              norm_last_layer=False),
    head=dict(type='mmrats.DINOHead', out_channels=65536, student_temp=0.1, center_momentum=0.9),
    num_global_crops=2,
    global_repr='auto')  # registers' mean for RATS, [CLS] for a ViT

optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    constructor='mmrats.TeacherFreeOptimWrapperConstructor',  # the EMA teacher is not optimised
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999), weight_decay=0.04),
    clip_grad=None,
    # DINO's parameter groups (utils.get_params_groups): no weight decay on biases and 1-D tensors (the
    # norms' weights here), decay on everything else, [CLS], position embeddings and registers included
    # (before issue #24 these three were exempt: our choice, neither the paper's nor DINO's)
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-5, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    # 0.04 -> 0.4 for the decayed groups; the groups without decay stay at 0
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
# part discovery on PartImageNet val every 10 epochs (../_base_/part-val_partimagenet-512.py; optional)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
# DINO's k-NN (eval_knn.py: teacher, 20 neighbours, T 0.07, centre crop 224 of 256) every 10 epochs on a subset
# of the training ImageNet (data_root None: train_dataloader's): the first 20 train images of each class as the
# bank, 10 val images per class as the queries; lower than, and not comparable with, the full protocol
# (tools/analysis/knn_eval.py). Off: --cfg-options custom_hooks.2.interval=0 (docs/pretraining.md).
knn_validation = dict(type='mmrats.KNNValidationHook', interval=10, data_root=None, max_per_class=20,
                      val_max_per_class=10, k=20, temperature=0.07, img_size=224, batch_size=64, num_workers=8)
custom_hooks = [
    dict(type='mmrats.DINOTeacherHook', teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_epochs=30,
         base_momentum=0.996, end_momentum=1.0),
    dict(type='mmrats.FreezeLastLayerHook', freeze_epochs=1, prefix='neck.last_layer'),
    knn_validation,
]
default_hooks = dict(
    logger=dict(interval=50),
    # every 10 epochs, the last 3 kept, plus the best by part-discovery M2O (best_parts_m2o_epoch_<N>.pth;
    # mmengine records it in the checkpoints' message hub, so a resumed run keeps comparing with it)
    checkpoint=dict(interval=10, max_keep_ckpts=3, save_best='parts/m2o', rule='greater'))
log_processor = dict(window_size=50)
# DINO's rule, lr = 5e-4 x total batch / 256: the lr above is written for the total batch 768
# (8 GPUs x 96), and mmengine's Runner scales it by (GPUs x train_dataloader.batch_size) / 768 on any
# other count (4 GPUs x 96: 7.5e-4, 16 x 96: 3e-3). Off: --cfg-options auto_scale_lr.enable=False.
auto_scale_lr = dict(enable=True, base_batch_size=768)
find_unused_parameters = False

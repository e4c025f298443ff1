# The DINO ViT-S/16 baseline (paper Table 1): the same recipe as RATS-S/16, [CLS] as the global
# representation, 100 epochs (the paper's baseline checkpoint).
_base_ = ['../_base_/dino_rats-s16_in1k-224.py']

max_epochs = 100
model = dict(backbone=dict(mode='mhsa', num_registers=0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 10, eta_min=1e-5, by_epoch=True, begin=10,
         end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)

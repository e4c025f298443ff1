# Mask2Former on ADE20K with a ViT-S/16-sized mmrats backbone (paper §4.3, App. E):
# the stock mmseg recipe (512x512 crops, 160k iterations, AdamW) with batch 8 = 8 GPUs x 1.
# Leaf configs choose the backbone (RATS or the DINO ViT), its weights and the query source.
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py']

# The config brings its own modules: `custom_imports` imports mmrats when the config is read, so the
# stock entry points (MMSegInferencer, DetInferencer, init_model, mmpretrain.get_model, ...) have the mmrats
# registries and its torch >= 2.6 checkpoint allow-list (mmrats/utils/torch_compat.py) before they read a
# checkpoint. Set here in each of the 3 bases every config inherits (not in a shared file):
# mmengine refuses a key that two sibling bases both set, and mmseg's Mask2Former base sets this one.
# It replaces that base's imports='mmdet.models': the mmdet modules its model names ('mmdet.' types)
# are imported by the registry on lookup.
custom_imports = dict(imports=['mmrats'], allow_failed_imports=False)

embed_dims = 384
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmrats.RATSViT',
        arch='small',
        img_size=512,
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.1),
    neck=dict(type='mmrats.ViTPyramidNeck', in_channels=embed_dims),
    decode_head=dict(
        type='mmrats.RegisterMask2FormerSegHead',
        in_channels=[embed_dims] * 4,
        register_channels=embed_dims))

train_dataloader = dict(batch_size=1)  # x 8 GPUs = batch 8 (paper App. E)
# The lr, AdamW 1e-4 (backbone x 0.1), is the stock recipe's, tuned there for batch 16 =
# 8 GPUs x 2 (mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py).
# This recipe keeps 1e-4 at batch 8 = 8 GPUs x 1 (paper App. E) and, as mmseg/mmdet, does not scale
# by default. --auto-scale-lr scales it from the stock batch: lr = 1e-4 x (GPUs x batch per GPU) / 16
# (1 GPU x 1: 6.25e-6, 4 x 1: 2.5e-5, 8 x 1: 5e-5, 16 x 1: 1e-4).
# Precision: float32 (OptimWrapper); --amp gives bf16 autocast where the GPU supports it, float16
# with loss scaling where it does not (mmrats.utils.run_config.set_precision).
auto_scale_lr = dict(enable=False, base_batch_size=16)

# Mask2Former on ADE20K with a ViT-S/16-sized mmrats backbone (paper §4.3, App. E):
# the stock mmseg recipe (512x512 crops, 160k iterations, AdamW) with batch 8 = 8 GPUs x 1.
# Leaf configs choose the backbone (RATS or the DINO ViT), its weights and the query source.
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py']

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
auto_scale_lr = dict(enable=False, base_batch_size=8)

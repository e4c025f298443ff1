# Linear probe of a DINO-pretrained RATS-S/16 (96 registers), DINO's ViT-S/16 protocol
# (eval_linear.py defaults: --n_last_blocks 4 --avgpool_patchtokens false): the features are the
# registers' mean of each of the last 4 blocks, each through the final LayerNorm, concatenated
# (4 x 384 = 1536); the registers' mean is RATS's global representation, the one DINO trained in
# place of [CLS]. The rest of the protocol (frozen backbone, SGD, lr 0.001 x 1024 / 256, 100 epochs, crops)
# and where each value comes from: ../_base_/linear-probe_in1k-224.py.
_base_ = ['../_base_/linear-probe_in1k-224.py']

embed_dims = 384
n_last_blocks = 4
model = dict(
    backbone=dict(
        arch='small',
        mode='rats',
        n_last_blocks=n_last_blocks,
        avgpool_patchtokens=False,
        # the teacher of a RATS-S DINO run (configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py), extracted
        # without the parallel branch: tools/model_converters/dino2backbone.py EPOCH.pth THIS_FILE
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/rats-s16_dino-300e.pth')),
    head=dict(in_channels=embed_dims * n_last_blocks))

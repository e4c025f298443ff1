# Linear probe of a DINO-pretrained RATS-B/16 (192 registers), DINO's ViT-B/16 protocol (README:
# eval_linear.py --arch vit_base --n_last_blocks 1 --avgpool_patchtokens true): the last block's registers'
# mean (RATS's global representation, in place of [CLS]) and the mean of its patch tokens, both through
# the final LayerNorm, concatenated (2 x 768 = 1536). DINO reports 78.2 % top-1 for its 400-epoch ViT-B/16.
# The rest of the protocol and the source of each value: ../_base_/linear-probe_in1k-224.py.
_base_ = ['../_base_/linear-probe_in1k-224.py']

embed_dims = 768
n_last_blocks = 1
model = dict(
    backbone=dict(
        arch='base',
        mode='rats',
        n_last_blocks=n_last_blocks,
        avgpool_patchtokens=True,
        # the teacher of a RATS-B DINO run (configs/dino/dino_rats-b16_8xb128-400e_in1k-224.py), extracted
        # without the parallel branch: tools/model_converters/dino2backbone.py EPOCH.pth THIS_FILE
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/rats-b16_dino-400e.pth')),
    head=dict(in_channels=embed_dims * (n_last_blocks + 1)))

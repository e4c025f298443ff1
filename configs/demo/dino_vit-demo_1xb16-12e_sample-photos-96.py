# Demo baseline: the same DINO demo pretraining as dino_rats-demo_1xb16-12e_sample-photos-96.py with a
# plain ViT of the same size ([CLS] as the global representation, no registers): the "ViT baseline
# from the same demo pretraining" of the part-discovery comparison.
_base_ = ['./dino_rats-demo_1xb16-12e_sample-photos-96.py']

model = dict(backbone=dict(mode='mhsa', num_registers=0))

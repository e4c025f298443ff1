# The ViT baseline of the lab-scale experiment (docs/lab_scale.md): the same recipe, data and
# steps as dino_rats-lab_1xb32-2e_part-objects-64.py with plain multi-head self-attention and
# [CLS] as the global representation (no registers); part discovery uses the [CLS] attention of
# the last block, one map per head. Same width, depth and parameters (within 0.3 %).
_base_ = ['./dino_rats-lab_1xb32-2e_part-objects-64.py']

model = dict(backbone=dict(mode='mhsa', num_registers=0))

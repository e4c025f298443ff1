# The supervised control (issue #26, docs/lab_scale.md) for the ViT baseline: the backbone of
# dino_vit-lab_1xb32-2e_part-objects-64.py (plain multi-head self-attention, [CLS], no registers) trained as
# supervised_rats-lab_1xb32-20e_part-objects-64.py; the linear head reads [CLS].
_base_ = ['./supervised_rats-lab_1xb32-20e_part-objects-64.py']

model = dict(backbone=dict(mode='mhsa', num_registers=0))

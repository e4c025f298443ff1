# The ViT-with-registers baseline of the lab-scale experiment (docs/lab_scale.md; Darcet et al.
# 2023): the same recipe, data and steps as dino_rats-lab_1xb32-2e_part-objects-64.py with plain
# multi-head self-attention over [CLS], 16 registers and the patches; [CLS] is the global
# representation, part discovery uses each register's last-block attention (averaged over heads).
_base_ = ['./dino_rats-lab_1xb32-2e_part-objects-64.py']

model = dict(backbone=dict(mode='mhsa', num_registers=16))

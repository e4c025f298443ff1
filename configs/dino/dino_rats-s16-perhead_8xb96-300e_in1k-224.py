# Paper Table 6 ablation: one DINO loss per attention head, over that head's 16 registers
# (instead of one loss over the mean of all 96).
_base_ = ['../_base_/dino_rats-s16_in1k-224.py']

model = dict(per_head_loss=True, head=dict(num_groups=6))

# The ViT baseline of the lab-scale Mask2Former (docs/lab_scale.md): the lab ViT of
# dino_vit-lab_1xb32-2e_part-objects-64.py ([CLS], no registers), initialised from its DINO
# teacher, with 16 learned queries; everything else as the RATS configs.
_base_ = ['./mask2former_rats-lab-regq_1xb8-100it_part-objects-96.py']

model = dict(backbone=dict(mode='mhsa', num_registers=0, parallel_branch=False),
             decode_head=dict(query_source='learned', num_queries=16))

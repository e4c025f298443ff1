# The ViT with LaSt-ViT aggregation for the lab-scale experiment (docs/lab_scale.md,
# docs/diagnostics.md): the same backbone, recipe, data and steps as
# dino_vit-lab_1xb32-2e_part-objects-64.py, but the global representation fed to DINO's projection
# head is not [CLS]: per channel, the mean of the K patches whose channel is most stable under a
# Gaussian low-pass along the channels (mmrats.models.utils.LaStViTAggregation). [CLS] stays in the
# attention (same parameters as the ViT baseline) but no loss reads it.
# top_k = 0.25: a quarter of the patches per channel (16 of a 64 px global crop's 64, 4 of a 32 px
# local crop's 16); LaSt-ViT's best K were 7 of 49 (label supervision) and 49 of 196 (CLIP).
# sigma = None: the low-pass width is sqrt(C) = sqrt(96) ~ 9.8 frequency bins.
_base_ = ['./dino_vit-lab_1xb32-2e_part-objects-64.py']

model = dict(global_repr='lastvit', lastvit=dict(top_k=0.25, sigma=None, eps=1e-6))

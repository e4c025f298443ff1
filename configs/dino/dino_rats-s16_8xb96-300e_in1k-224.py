# RATS-S/16 (96 registers, partitioned across 6 heads) pretrained with DINO on ImageNet-1k
# (paper Table 1 / the backbone of the Mask2Former configs). The recipe is in the base config.
_base_ = ['../_base_/dino_rats-s16_in1k-224.py']

# RATS-S/16 pretrained with DINO on ImageNet-1k with a learned register codebook trained with the
# backbone (paper §4.4, Appendix C.2 "Learned dictionary"; docs/part_dictionary.md): the recipe of
# dino_rats-s16_8xb96-300e_in1k-224.py, plus K entries fitted to the student's last-block registers of
# the global crops with the VQ codebook + commitment losses (commitment weight 0.25, VQ-VAE's) and an
# entropy diversity term (weight 0.1) on the batch's entry usage. The paper scales K to ImageNet's
# 1,000 classes; its value is lost: K = 1024 here [ours]. The EMA teacher keeps a copy of the entries
# (teacher.codebook.entries), the dictionary of the extracted teacher backbone.
_base_ = ['./dino_rats-s16_8xb96-300e_in1k-224.py']

num_entries = 1024
model = dict(codebook=dict(num_entries=num_entries, commitment_weight=0.25, diversity_weight=0.1))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'codebook.entries': dict(decay_mult=0.0)}))

# Lab-scale DINO with a learned register codebook (paper §4.4, Appendix C.2 "Learned dictionary";
# docs/part_dictionary.md): the lab RATS recipe of dino_rats-lab_1xb32-2e_part-objects-64.py unchanged
# (same data, crops, schedule, hooks), plus K = 128 entries trained with the backbone on the student's
# last-block registers of the global crops: VQ codebook + commitment (weight 0.25, VQ-VAE's) losses and
# an entropy diversity term (weight 0.1) on the batch's entry usage. The EMA teacher keeps its own copy
# of the entries (teacher.codebook.entries: what tools/analysis/part_dictionary.py reads with the
# extracted teacher backbone). K = 128 is about ten times the data's 12 labels (11 part types +
# background), as the paper sizes its dictionaries [ours: the paper's value is lost].
_base_ = ['./dino_rats-lab_1xb32-2e_part-objects-64.py']

num_entries = 128
model = dict(codebook=dict(num_entries=num_entries, commitment_weight=0.25, diversity_weight=0.1))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'codebook.entries': dict(decay_mult=0.0)}))

# The "large vocabulary" ablation of the lab codebook (paper Fig. 6 left, "Learned codebook (L)";
# docs/part_dictionary.md): everything as dino_rats-lab-codebook_1xb32-2e_part-objects-64.py but
# K = 512 entries (4x) [ours: the paper's values are lost].
_base_ = ['./dino_rats-lab-codebook_1xb32-2e_part-objects-64.py']

num_entries = 512
model = dict(codebook=dict(num_entries=num_entries))

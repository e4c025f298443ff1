# The "large vocabulary" ablation (paper Fig. 6 left, "Learned codebook (L)"; docs/part_dictionary.md):
# dino_rats-s16-codebook_8xb96-300e_in1k-224.py with K = 4096 entries (4x) [ours: the value is lost].
_base_ = ['./dino_rats-s16-codebook_8xb96-300e_in1k-224.py']

num_entries = 4096
model = dict(codebook=dict(num_entries=num_entries))

# As mask2former_rats-lab-regq_1xb8-100it_part-objects-96.py with Mask2Former's own 16 learned
# queries instead of the registers (the backbone's contribution alone; paper Table 2).
_base_ = ['./mask2former_rats-lab-regq_1xb8-100it_part-objects-96.py']

model = dict(decode_head=dict(query_source='learned', num_queries=16))

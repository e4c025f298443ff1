# Part discovery on a held-out part benchmark, the validation of the ImageNet DINO pretraining runs (paper
# §4.5, Fig. 8: part quality peaks around epochs 160-180 of RATS-S's 300 and declines after, so the run
# evaluates it every `train_cfg.val_interval` epochs and keeps the best checkpoint by M2O).
# PartImageNet *val* (its own split: Table 1 reports PartImageNet *test*, which is never used to choose a
# checkpoint), each image resized to 512 x 512, the 50 candidate maps of highest peak, Gaussian sigma 1 patch:
# the settings of tools/analysis/part_segmentation.py, whose Table-1 rows this metric reproduces.
# ImageNet-S919 instead: kind='imagenet-s', data_root='data/ImageNetS919', split='train-semi' (its
# 'validation' split is a Table 1 column). The data are optional (optional_val below): without them
# tools/train.py warns and trains without this validation. Preparation: docs/part_discovery.md.
optional_val = True
part_val_size = 512
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='mmrats.PartBenchmarkDataset', kind='partimagenet', data_root='data/PartImageNet',
                 split='val', img_size=part_val_size,
                 pipeline=[dict(type='PackInputs', algorithm_keys=['gt_part_label'])]))
val_evaluator = dict(type='mmrats.PartDiscoveryMetric', top_k=[50], sigma=1.0)
val_cfg = dict(type='ValLoop')

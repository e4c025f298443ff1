# The supervised control of the lab-scale experiment (issue #26; docs/lab_scale.md, "Controls"): the lab RATS
# of dino_rats-lab_1xb32-2e_part-objects-64.py (the same backbone, parameters, data, 2,048 training images and
# seeds) trained to name the main object's category (gt_label of mmrats.PartObjectsDataset, 9 classes) instead
# of with DINO: a stock mmpretrain ImageClassifier whose neck is the global representation DINO trains and the
# lab's k-NN reads (mmrats.GlobalReprNeck: the registers' mean for RATS, [CLS] for the ViTs), a linear head,
# cross-entropy. One view per image: DINO's first global view (RandomResizedCrop 64, scale 0.3-1, flip, colour
# jitter, grayscale, blur). AdamW lr 5e-4 (1 warm-up epoch, cosine), weight decay 0.05, no decay on the
# registers, [CLS] and position embeddings, gradient clipping 3, as the DINO config. The held-out category
# accuracy is validated on 100 `val` images every epoch and tested once on the `test` images after training;
# tools/lab/lab_experiment.py --objective supervised resizes it (--setting) and evaluates the backbone exactly
# as it evaluates a DINO teacher. The ViT and ViT + registers: supervised_vit*-lab_*.py.
_base_ = ['./dino_rats-lab_1xb32-2e_part-objects-64.py']

max_epochs = 20
warmup_epochs = 1
num_classes = 9  # mmrats.PartObjectsDataset's categories: dog, horse, giraffe, car, bus, truck, songbird, duck, swallow
model = dict(
    _delete_=True,
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', mean={{_base_.data_preprocessor.mean}},
                           std={{_base_.data_preprocessor.std}}, to_rgb=True),
    backbone={{_base_.model.backbone}},
    neck=dict(type='mmrats.GlobalReprNeck', global_repr='auto'),
    head=dict(type='LinearClsHead', num_classes=num_classes, in_channels={{_base_.lab_embed_dims}},
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), cal_acc=True))

# DINO's first global view, as one step (its transforms in order), then packing
train_pipeline = [dict(type='Compose', transforms={{_base_.global_view1}}), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs')]))
val_evaluator = dict(_delete_=True, type='Accuracy', topk=(1,))
test_dataloader = dict(
    batch_size=50,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='mmrats.PartObjectsDataset', num_images=200, split='test', seed=0,
                 img_size={{_base_.img_size}}, pipeline=[dict(type='PackInputs')]))
test_evaluator = dict(type='Accuracy', topk=(1,))
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', _delete_=True,
                     optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
                     clip_grad=dict(max_norm=3.0),
                     paramwise_cfg={{_base_.recorded_paramwise_cfg}})
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-5, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
custom_hooks = []  # no teacher, no prototypes
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None, rule=None))

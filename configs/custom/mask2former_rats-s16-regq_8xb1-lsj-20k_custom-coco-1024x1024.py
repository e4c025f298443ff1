# Fine-tuning the RATS-S/16 register-query Mask2Former (instance segmentation with boxes) on your own
# COCO-format data: the COCO recipe of ../mask2former/mask2former_rats-s16-regq_8xb1-lsj-368k_coco-1024x1024.py
# with your classes, your data roots and a 20k-iteration schedule (the recipe's step schedule, scaled:
# lr x0.1 at 88.9% and 96.3% of the iterations). docs/custom_data.md walks through it.
#
# Expected layout (COCO instances json; category names must be the names in `classes` below):
#   data/my_coco/train/*.jpg   data/my_coco/annotations/instances_train.json
#   data/my_coco/val/*.jpg     data/my_coco/annotations/instances_val.json
_base_ = ['../mask2former/mask2former_rats-s16-regq_8xb1-lsj-368k_coco-1024x1024.py']

classes = ('screw', 'nut', 'washer')  # the annotation file's category names (their order sets the labels)
num_classes = len(classes)
metainfo = dict(classes=classes)
data_root = 'data/my_coco/'

# Register queries: the decoder starts from the backbone's 96 final registers, so num_queries stays the
# backbone's num_registers (96 for RATS-S) whatever the number of classes; an image can hold at most 96
# predicted instances (model.test_cfg.max_per_image <= 96 x num_classes).
model = dict(
    panoptic_head=dict(
        num_things_classes=num_classes,
        num_stuff_classes=0,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_classes, num_stuff_classes=0),
    test_cfg=dict(max_per_image=min(100, 96 * num_classes)))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_iters = 20000
interval = 2000
param_scheduler = dict(
    _delete_=True, type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[17778, 19259], gamma=0.1)
train_cfg = dict(max_iters=max_iters, val_interval=interval, dynamic_intervals=None)
default_hooks = dict(checkpoint=dict(interval=interval, max_keep_ckpts=3, save_best='coco/segm_mAP', rule='greater'))

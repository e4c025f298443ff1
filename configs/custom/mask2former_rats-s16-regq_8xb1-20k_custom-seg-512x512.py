# Fine-tuning the RATS-S/16 register-query Mask2Former (semantic segmentation) on your own image and
# label-PNG folders: the ADE20K recipe of ../mask2former/mask2former_rats-s16-regq_8xb1-160k_ade20k-512x512.py
# with mmseg's plain BaseSegDataset, your classes, your data roots and a 20k-iteration schedule (the recipe's
# poly decay over 20k iterations). docs/custom_data.md walks through it.
#
# Expected layout (one single-channel label PNG per image, same file stem; pixel value = class index
# 0..num_classes-1 as listed in `classes`, 255 = unlabelled / ignored):
#   data/my_seg/images/train/*.jpg   data/my_seg/labels/train/*.png
#   data/my_seg/images/val/*.jpg     data/my_seg/labels/val/*.png
_base_ = ['../mask2former/mask2former_rats-s16-regq_8xb1-160k_ade20k-512x512.py']

classes = ('background', 'screw', 'nut', 'washer')
palette = [[0, 0, 0], [220, 40, 40], [40, 180, 60], [50, 90, 220]]  # one RGB colour per class (pictures)
num_classes = len(classes)
metainfo = dict(classes=classes, palette=palette)
data_root = 'data/my_seg/'
# Labels store class k as k and 255 as "ignore". If yours store "unlabelled" as 0 and class k as k + 1
# (the ADE20K convention), set reduce_zero_label = True and leave 'unlabelled' out of `classes`.
reduce_zero_label = False

# Register queries: num_queries stays the backbone's num_registers (96 for RATS-S).
model = dict(
    decode_head=dict(
        num_classes=num_classes,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))

crop_size = (512, 512)
train_pipeline = [  # the recipe's; LoadAnnotations takes reduce_zero_label from the dataset
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomChoiceResize', scales=[int(512 * x * 0.1) for x in range(5, 21)],
         resize_type='ResizeShortestEdge', max_size=2048),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.jpg',
               seg_map_suffix='.png', reduce_zero_label=reduce_zero_label)
train_dataloader = dict(
    dataset=dict(_delete_=True, **dataset, pipeline=train_pipeline,
                 data_prefix=dict(img_path='images/train', seg_map_path='labels/train')))
val_dataloader = dict(
    dataset=dict(_delete_=True, **dataset, pipeline=test_pipeline,
                 data_prefix=dict(img_path='images/val', seg_map_path='labels/val')))
test_dataloader = val_dataloader

max_iters = 20000
interval = 2000
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=interval)
default_hooks = dict(checkpoint=dict(interval=interval, max_keep_ckpts=3, save_best='mIoU'))

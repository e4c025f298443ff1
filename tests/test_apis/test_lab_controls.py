"""The controls of issue #26 (mmrats.apis.lab_recipe, mmrats.apis.lab_supervised): the supervised configs, the
no-colour augmentations, the colour-uninformative data in every loader, the classifier's backbone read as a DINO
teacher is, and the held-out accuracy with its near-chance flag."""
from dataclasses import replace

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmrats.apis import extract_backbone, load_backbone
from mmrats.apis.lab import DINO_CONFIGS, SETTINGS, SUPERVISED_CONFIGS, dino_cfg
from mmrats.apis.lab_recipe import apply_recipe, check_data_root, check_recipe, without_colour
from mmrats.apis.lab_supervised import supervised_cfg, train_supervised
from mmrats.apis.runs import repo_config
from mmrats.evaluation.lab import global_features, held_out, markdown, near_chance
from mmrats.models.utils.global_repr import global_vector, resolve_global_repr
from mmrats.utils.images import normalize

COLOUR = ('ColorJitter', 'RandomGrayscale', 'Solarize')
TINY = replace(SETTINGS['quick'], epochs=1, num_images=8, batch_size=8, val_images=2, test_images=9)


def _types(pipeline) -> list[str]:
    """Every transform type of a pipeline, at any depth (MultiView views, RandomApply / Compose transforms)."""
    out = []
    for t in pipeline:
        if isinstance(t, (list, tuple)):
            out += _types(t)
        else:
            out.append(t['type'])
            out += _types(t.get('transforms', []))
    return out


@pytest.mark.parametrize('model', sorted(SUPERVISED_CONFIGS))
def test_supervised_configs_train_the_dino_backbones_on_dinos_first_view(model):
    sup, dino = (Config.fromfile(repo_config(c[model])) for c in (SUPERVISED_CONFIGS, DINO_CONFIGS))
    assert sup.model.type == 'ImageClassifier' and sup.model.backbone == dino.model.backbone
    assert sup.model.neck == dict(type='mmrats.GlobalReprNeck', global_repr='auto')
    assert sup.model.head.type == 'LinearClsHead' and sup.model.head.num_classes == 9
    assert sup.model.head.loss.type == 'CrossEntropyLoss'
    assert sup.model.data_preprocessor.mean == dino.data_preprocessor.mean
    assert sup.model.data_preprocessor.std == dino.data_preprocessor.std and sup.model.data_preprocessor.to_rgb
    assert sup.train_dataloader.dataset == dict(dino.train_dataloader.dataset, pipeline=sup.train_dataloader.dataset
                                                .pipeline)  # the same 2,048 images
    assert sup.train_dataloader.dataset.pipeline == [dict(type='Compose', transforms=dino.global_view1),
                                                     dict(type='PackInputs')]
    assert sup.custom_hooks == []  # no DINO hooks, no k-NN hook of the ImageNet configs
    assert sup.val_evaluator.type == sup.test_evaluator.type == 'Accuracy'
    assert sup.test_dataloader.dataset.split == 'test' and sup.val_dataloader.dataset.split == 'val'


def test_the_neck_gives_the_global_representation_the_evaluation_reads():
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    x = held_out(2, 'test')
    for model in ('rats', 'vit', 'vitreg'):  # vitreg: [CLS] and registers, the head reads [CLS]
        clf = MODELS.build(Config.fromfile(repo_config(SUPERVISED_CONFIGS[model])).model).eval()
        with torch.no_grad():
            feats = clf.extract_feat(normalize(x.images))[-1]
        torch.testing.assert_close(feats, global_features(clf.backbone, x), rtol=0, atol=0)
        want = 'registers' if model == 'rats' else 'cls'
        assert resolve_global_repr(clf.backbone) == want
        with torch.no_grad():
            torch.testing.assert_close(feats, global_vector(clf.backbone.forward_features(normalize(x.images)), want))


def test_no_colour_drops_jitter_grayscale_solarize_and_keeps_the_geometry_and_blur():
    cfg = dino_cfg('rats', 0, TINY, '/tmp/unused', recipe=dict(augment='no-colour'))
    before = _types(Config.fromfile(repo_config(DINO_CONFIGS['rats'])).train_dataloader.dataset.pipeline)
    after = _types(cfg.train_dataloader.dataset.pipeline)
    assert set(COLOUR) <= set(before) and not set(COLOUR) & set(after)
    assert [t for t in before if t not in COLOUR + ('RandomApply',)] == after  # the rest, in order
    assert after.count('RandomResizedCrop') == 3 and after.count('RandomFlip') == 3
    assert after.count('GaussianBlur') == 3 and 'RandomApply' not in after  # its only transform was the jitter
    sup = supervised_cfg('rats', 0, TINY, '/tmp/unused', recipe=dict(augment='no-colour'))
    assert _types(sup.train_dataloader.dataset.pipeline) == ['Compose', 'RandomResizedCrop', 'RandomFlip',
                                                             'GaussianBlur', 'PackInputs']
    # the default recipe leaves the configs as they are
    assert without_colour([dict(type='RandomFlip')]) == [dict(type='RandomFlip')]
    plain = dino_cfg('rats', 0, TINY, '/tmp/unused')
    assert plain.train_dataloader.dataset.pipeline == Config.fromfile(
        repo_config(DINO_CONFIGS['rats'])).train_dataloader.dataset.pipeline
    assert 'gen_cfg' not in plain.train_dataloader.dataset


def test_the_data_variant_reaches_every_loader():
    for cfg in (dino_cfg('vit', 0, TINY, '/tmp/unused', recipe=dict(data_variant='colour-uninformative')),
                supervised_cfg('vit', 0, TINY, '/tmp/unused', recipe=dict(data_variant='colour-uninformative'))):
        loaders = [k for k in ('train_dataloader', 'val_dataloader', 'test_dataloader') if cfg.get(k)]
        assert len(loaders) >= 2
        for k in loaders:
            assert cfg[k].dataset.gen_cfg == dict(colour='uninformative'), k
    with pytest.raises(ValueError, match='augment'):
        check_recipe(dict(augment='none'))
    with pytest.raises(ValueError, match='objective'):
        apply_recipe(Config(dict()), dict(objective='mae'))


def test_a_data_root_of_the_other_variant_is_refused(tmp_path):
    from mmrats.datasets.part_objects import PartObjectsConfig
    from mmrats.datasets.part_objects_writer import write_part_objects
    write_part_objects(tmp_path, dict(test=1), cfg=PartObjectsConfig(img_size=32), ade=False)
    check_data_root(str(tmp_path), 'default')
    check_data_root(str(tmp_path / 'new'), 'colour-uninformative')  # nothing written there yet
    with pytest.raises(ValueError, match="holds the 'default' part objects, not 'colour-uninformative'"):
        check_data_root(str(tmp_path), 'colour-uninformative')


def test_supervised_training_records_the_held_out_accuracy_and_extracts_the_backbone(tmp_path):
    r = train_supervised('rats', 0, TINY, str(tmp_path))
    assert r['iters'] == 1 and 0 <= r['accuracy'] <= 100 and r['near_chance'] == near_chance(r['accuracy'])
    assert set(r['epochs'][0]) == {'epoch', 'loss', 'accuracy_top-1'} and 'accuracy/top1' in r['val'][0]
    ckpt = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    bb = load_backbone(r['backbone'])  # read exactly as a DINO teacher file is
    for k, v in bb.state_dict().items():
        torch.testing.assert_close(v, ckpt[f'backbone.{k}'], rtol=0, atol=0)
    ft = load_backbone(r['finetune_backbone'])
    assert ft.parallel_branch and not bb.parallel_branch  # RATS's fine-tuning form, for Mask2Former
    x = torch.randn(1, 3, 96, 96)
    torch.testing.assert_close(ft(x)[0], bb(x)[0], atol=1e-5, rtol=0)
    # the held-out accuracy is the classifier's top-1 (%) on the setting's first test images
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    clf = MODELS.build(Config.fromfile(repo_config(SUPERVISED_CONFIGS['rats'])).model).eval()
    load_checkpoint(clf, str(tmp_path / 'epoch_1.pth'), map_location='cpu')
    test = held_out(TINY.test_images, 'test')
    with torch.no_grad():
        pred = clf(normalize(test.images), mode='tensor').argmax(1).numpy()
    assert r['accuracy'] == pytest.approx(100 * (pred == test.categories).mean())
    with pytest.raises(Exception, match='no student'):
        extract_backbone(tmp_path / 'epoch_1.pth', tmp_path / 's.pth', which='student')


@pytest.mark.parametrize('accuracy, flagged', [(15.0, True), (22.0, True), (22.3, False), (60.0, False)])
def test_the_tables_show_the_held_out_accuracy_and_flag_it_near_chance(accuracy, flagged):
    part = dict(method='registers', num_maps=16, per_k={'8': dict(m2o=20.0, o2o=18.0, ari=9.0)})
    run = dict(seconds=1.0, cpu_seconds=2.0, iters=64, epochs=[dict(epoch=1, loss=2.2, **{'accuracy_top-1': 10.0})],
               val=[{'step': 1, 'accuracy/top1': 12.0}], accuracy=accuracy, near_chance=near_chance(accuracy))
    res = dict(setting='long', objective='supervised', sizes=dict(seeds=[0], top_ks=[8], m2f_iters=100),
               models=['rats'], params={'rats': 1000}, cfg_options={}, parts={'rats/seed0/pretrained': part},
               diagnostics={}, pretrain={'rats/seed0': run},
               knn={'rats/seed0/pretrained': 30.0, 'rats/seed0/untrained': 11.0},
               m2f={'rats-regq/seed0': dict(mIoU=9.0, mAcc=10.0)})
    md = markdown(res)
    assert '## Supervised training' in md and 'DINO pretraining' not in md
    assert '| RATS (16 registers) | supervised | registers (16) |' in md
    assert f'| RATS (16 registers) | 30.0 ± 0.0 | 11.0 ± 0.0 | {accuracy:.1f} ± 0.0' in md  # beside the k-NN
    assert ('**near chance**' in md) == flagged and ('**Near chance**' in md) == flagged
    assert 'objective `supervised`' in md and '| RATS (16 registers) supervised backbone | registers | 9.0' in md

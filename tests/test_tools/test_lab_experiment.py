"""tools/lab/lab_experiment.py --setting quick: every step of the lab-scale experiment, end to end.

Marked ``slow`` (not in ``make test``; run it with ``make test TEST_ARGS='-m slow'``): test_quick_run
builds 3 DINO runners and 3 Mask2Former runners (2 iterations each) and evaluates them: 1 min 55 s under
pytest on the idle 2-core machine (2026-11-24), 23 min when it shared the machine with a load average of
8-14. Kept out of ``make test`` so that the suite stays well inside its 15-minute target (12 min 23 s
idle without it). It is the only test of the driver's end-to-end path: run it after changing the driver.
"""
import json
import sys
from dataclasses import asdict, replace

import pytest

from mmrats.apis import lab as lab_api
from mmrats.evaluation.lab import markdown as lab_markdown
from mmrats.evaluation.lab import merge_results, time_line
from tests.conftest import load_tool

lab_experiment = load_tool('tools/lab/lab_experiment.py')


@pytest.mark.slow
def test_quick_run(tmp_path):
    assert lab_experiment.main(['--setting', 'quick', '--work-dir', str(tmp_path)]) == 0
    res = json.loads((tmp_path / 'lab_results.json').read_text())
    counts = res['params']
    assert set(counts) == {'rats', 'vit', 'vitreg'} and max(counts.values()) <= 1.02 * min(counts.values())
    for m, method, maps in (('rats', 'registers', 16), ('vit', 'cls-attn', 4), ('vitreg', 'register-attn', 16)):
        r = res['pretrain'][f'{m}/seed0']
        assert r['iters'] == 2 and r['epochs'][0]['loss'] > 0
        assert r['val'] and 0 <= r['val'][-1]['parts/m2o'] <= 100  # the metric ran in the validation loop
        for state in ('pretrained', 'untrained'):
            p = res['parts'][f'{m}/seed0/{state}']
            assert p['method'] == method and p['num_maps'] == maps and set(p['per_k']) == {'2', '4', '8', '16'}
            assert 0 <= p['per_k']['8']['m2o'] <= 100
            assert 0 <= res['knn'][f'{m}/seed0/{state}'] <= 100
        # the untrained backbone really is another network than the pretrained teacher
        assert res['parts'][f'{m}/seed0/pretrained'] != res['parts'][f'{m}/seed0/untrained']
    assert set(res['m2f']) == {'rats-regq/seed0', 'rats-learned/seed0', 'vit-learned/seed0'}
    md = (tmp_path / 'lab_results.md').read_text()
    for title in ('Part discovery', 'k-NN', 'Diagnostics', 'DINO pretraining', 'Mask2Former'):
        assert title in md
    for name in ('grid.png', 'curves.png', 'rats_pretrained_heads_0.png'):
        assert (tmp_path / 'pictures' / name).stat().st_size > 1000
    # --report rebuilds the tables and pictures from the saved JSON (an interrupted run's too)
    (tmp_path / 'lab_results.md').unlink()
    (tmp_path / 'pictures' / 'grid.png').unlink()
    assert lab_experiment.main(['--report', '--work-dir', str(tmp_path)]) == 0
    assert (tmp_path / 'lab_results.md').read_text() == md
    assert (tmp_path / 'pictures' / 'grid.png').is_file()


def test_an_interrupted_pretraining_continues_from_its_checkpoint(tmp_path):
    """A pretraining stopped after epoch 1 of 2 (its checkpoint saved) runs only epoch 2 under --resume."""
    one = replace(lab_api.SETTINGS['quick'], epochs=1, num_images=16, val_images=4)
    first = lab_api.pretrain('rats', 0, one, str(tmp_path))
    assert first['iters'] == 1 and 'resumed_from_epoch' not in first
    r = lab_api.pretrain('rats', 0, replace(one, epochs=2), str(tmp_path), resume=True)
    assert r['resumed_from_epoch'] == 1 and r['iters'] == 2  # 1 iteration per epoch: epoch 1 was not run again
    # the curves hold both sessions: epoch 1 read from the first session's log folder
    assert [e['epoch'] for e in r['epochs']] == [1, 2] and [v['step'] for v in r['val']] == [1, 2]
    assert r['epochs'][0] == first['epochs'][0]
    first_log, second_log = sorted(tmp_path.glob('*/vis_data/scalars.json'))
    second = [json.loads(line) for line in second_log.read_text().splitlines()]
    assert {row['epoch'] for row in second if 'loss' in row} == {2}  # the second session trained epoch 2 only
    assert (tmp_path / 'teacher_backbone.pth').is_file()


def test_report_needs_results(tmp_path, capsys):
    assert lab_experiment.main(['--report', '--work-dir', str(tmp_path)]) == 2
    assert 'run the experiment first' in capsys.readouterr().err


def test_parameter_budget_is_checked(monkeypatch):
    real = lab_api.untrained_lab_backbone

    def bigger(model, seed, options=None, objective='dino'):
        bb = real(model, seed, options, objective)
        if model == 'vit':
            import torch
            bb.extra = torch.nn.Linear(128, 512)  # +66k parameters, > 2 %
        return bb

    monkeypatch.setattr(lab_api, 'untrained_lab_backbone', bigger)
    with pytest.raises(SystemExit, match='2 %'):
        lab_api.param_budget(['rats', 'vit'])


def _run(seeds, models=('rats',), **extra):
    sizes = dict(epochs=2, num_images=64, seeds=list(seeds))
    keyed = {f'{m}/seed{s}': {'value': s} for m in models for s in seeds}
    return dict(setting='default', models=list(models), params={m: 100 for m in models}, cfg_options={},
                sizes=sizes, pretrain=dict(keyed), parts=dict(keyed), knn=dict(keyed), diagnostics=dict(keyed),
                m2f={}, total_seconds=10.0, total_cpu_seconds=15.0, **extra)


def test_merge_results_of_seed_groups():
    merged = merge_results([_run([0]), _run([2, 1])], ['a', 'b'])
    assert merged['sizes']['seeds'] == [0, 1, 2]
    assert set(merged['knn']) == {'rats/seed0', 'rats/seed1', 'rats/seed2'}
    assert merged['total_seconds'] == 20.0 and merged['merged_from'] == ['a', 'b']


def test_merge_results_of_model_groups():
    merged = merge_results([_run([0], models=['rats']), _run([0], models=['vit', 'vitreg'])],
                                          ['a', 'b'])
    assert merged['models'] == ['rats', 'vit', 'vitreg'] and merged['sizes']['seeds'] == [0]
    assert set(merged['knn']) == {'rats/seed0', 'vit/seed0', 'vitreg/seed0'}
    assert set(merged['params']) == {'rats', 'vit', 'vitreg'}


def test_merge_refuses_runs_that_leave_a_model_without_a_seed():
    with pytest.raises(ValueError, match='no run holds vit/seed1'):
        merge_results([_run([0, 1], models=['rats']), _run([0], models=['vit'])], ['a', 'b'])


@pytest.mark.parametrize('change, match', [
    (dict(cfg_options={'model.head.centering': 'sinkhorn_knopp'}), "'cfg_options'"),
    (dict(setting='long'), "'setting'"),
    (dict(sizes=dict(epochs=4, num_images=64, seeds=[1])), 'sizes'),
    (dict(sizes=dict(epochs=2, num_images=64, seeds=[0])), 'more than one run'),
])
def test_merge_refuses_runs_of_other_recipes(change, match):
    other = {**_run([1]), **change}
    with pytest.raises(ValueError, match=match):
        merge_results([_run([0]), other], ['a', 'b'])


def test_merge_names_a_missing_run(tmp_path, capsys):
    assert lab_experiment.main(['--merge', str(tmp_path / 'nope'), '--work-dir', str(tmp_path / 'out')]) == 2
    assert 'lab_results.json does not exist' in capsys.readouterr().err


def _saved_quick_run(work, **change):
    """A saved quick-setting run of RATS, seed 0, pretrained and evaluated, without Mask2Former."""
    sizes = dict(asdict(lab_api.SETTINGS['quick']), seeds=[0])
    saved = dict(setting='quick', sizes=sizes, models=['rats'], params={'rats': 1}, cfg_options={},
                 threads=1, pretrain={'rats/seed0': {'backbone': 'saved.pth', 'iters': 2}},
                 parts={'rats/seed0/pretrained': {'saved': 1}, 'rats/seed0/untrained': {'saved': 2}},
                 knn={}, diagnostics={}, m2f={}, total_seconds=100.0, total_cpu_seconds=150.0)
    saved.update(change)
    work.mkdir(parents=True, exist_ok=True)
    (work / 'lab_results.json').write_text(json.dumps(saved))


@pytest.fixture
def no_work(monkeypatch):
    """The driver's expensive steps replaced by recorders (what ran is in the returned dict)."""
    calls = dict(pretrain=[], finetune=[])

    def pretrain(model, seed, *a, **k):
        calls['pretrain'].append(f'{model}/seed{seed}')
        raise AssertionError('a step the saved run holds was run again')

    def finetune(variant, backbone, seed, *a, **k):
        calls['finetune'].append((variant, backbone))
        return dict(mIoU=1.0, mAcc=2.0, seconds=0.1, cpu_seconds=0.1)

    monkeypatch.setattr(lab_experiment, 'pretrain', pretrain)
    monkeypatch.setattr(lab_experiment, 'finetune', finetune)
    monkeypatch.setattr(lab_experiment, 'write_part_objects', lambda *a, **k: None)
    monkeypatch.setattr(lab_experiment, 'held_out', lambda n, split, **k: None)
    monkeypatch.setattr(lab_experiment, 'lab_markdown', lambda r: 'tables')
    monkeypatch.setattr(lab_experiment, 'pictures', lambda *a, **k: None)
    return calls


def test_resume_runs_only_the_missing_steps(tmp_path, no_work):
    _saved_quick_run(tmp_path)
    argv = ['--setting', 'quick', '--models', 'rats', '--resume', '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 0
    assert no_work['pretrain'] == []  # the saved pretraining and its evaluation are kept
    assert no_work['finetune'] == [('rats-regq', 'saved.pth'), ('rats-learned', 'saved.pth')]
    res = json.loads((tmp_path / 'lab_results.json').read_text())
    assert res['parts']['rats/seed0/untrained'] == {'saved': 2}
    assert set(res['m2f']) == {'rats-regq/seed0', 'rats-learned/seed0'}
    assert res['total_seconds'] >= 100.0 and res['total_cpu_seconds'] >= 150.0  # every session counted
    # a second resume finds everything done and runs nothing
    no_work['finetune'].clear()
    assert lab_experiment.main(argv) == 0
    assert no_work['finetune'] == []


@pytest.mark.parametrize('change, match', [
    (dict(cfg_options={'model.head.centering': 'sinkhorn_knopp'}), 'cfg_options'),
    (dict(setting='long'), 'setting'),
])
def test_resume_refuses_a_run_of_another_recipe(tmp_path, no_work, capsys, change, match):
    _saved_quick_run(tmp_path, **change)
    before = (tmp_path / 'lab_results.json').read_text()
    argv = ['--setting', 'quick', '--models', 'rats', '--resume', '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and 'another --work-dir' in err
    assert (tmp_path / 'lab_results.json').read_text() == before  # the saved run is left as it was
    assert no_work['finetune'] == []


def test_resume_refuses_other_sizes(tmp_path, no_work, capsys):
    _saved_quick_run(tmp_path)
    argv = ['--setting', 'quick', '--epochs', '3', '--models', 'rats', '--resume', '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 2
    assert 'epochs=1' in capsys.readouterr().err


def test_resume_takes_other_mask2former_sizes_only_before_mask2former_ran(tmp_path, no_work, capsys):
    _saved_quick_run(tmp_path)
    argv = ['--setting', 'quick', '--m2f-iters', '5', '--models', 'rats', '--resume', '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 0  # the saved run holds no Mask2Former: its size is still free
    assert json.loads((tmp_path / 'lab_results.json').read_text())['sizes']['m2f_iters'] == 5
    assert lab_experiment.main(argv[:2] + argv[4:]) == 2  # now it holds Mask2Former results of 5 iterations
    assert 'm2f_iters=5' in capsys.readouterr().err


def test_rediagnose_adds_the_new_diagnostics_to_a_saved_run(tmp_path, monkeypatch):
    _saved_quick_run(tmp_path, diagnostics={'rats/seed0/pretrained': {'old': 1}})
    res = json.loads((tmp_path / 'lab_results.json').read_text())
    for state in ('pretrained', 'untrained'):
        res['parts'][f'rats/seed0/{state}'] = dict(method='registers', num_maps=16, map_similarity=0.5,
                                                   regions_used=4.0, per_k={})
    (tmp_path / 'lab_results.json').write_text(json.dumps(res))
    loaded = []
    monkeypatch.setattr(lab_experiment, 'load_backbone',  # the saved teacher: here another random init
                        lambda path: loaded.append(path) or lab_experiment.untrained_lab_backbone('rats', 1))
    monkeypatch.setattr(lab_experiment, 'lab_markdown', lambda r: 'tables')
    monkeypatch.setattr(lab_experiment, 'pictures', lambda *a, **k: None)
    assert lab_experiment.main(['--rediagnose', '--work-dir', str(tmp_path)]) == 0
    assert loaded == ['saved.pth']
    diag = json.loads((tmp_path / 'lab_results.json').read_text())['diagnostics']
    for state in ('pretrained', 'untrained'):
        d = diag[f'rats/seed0/{state}']
        assert len(d['attention_entropy_per_head']) == 4 and 0 < d['attention_entropy'] <= 4.97 + 1e-3
        assert 0 <= d['specialisation']['nmi'] <= 100 and 1 <= d['specialisation']['maps_used'] <= 16
        assert d['map_similarity'] == 0.5  # kept from the saved part discovery
    assert diag['rats/seed0/pretrained'] != diag['rats/seed0/untrained']


def test_rediagnose_needs_results(tmp_path, capsys):
    assert lab_experiment.main(['--rediagnose', '--work-dir', str(tmp_path)]) == 2
    assert 'run the experiment first' in capsys.readouterr().err


@pytest.mark.parametrize('verbose', [False, True])
def test_console_is_a_line_per_step_and_the_logs_hold_the_rest(tmp_path, no_work, monkeypatch, capfd, verbose):
    def pretrain(model, seed, *a, **k):
        print(f'RUNNER LOG {model}')  # what mmengine prints: the config, every iteration, warnings
        print('RUNNER WARNING', file=sys.stderr)
        return dict(backbone='b.pth', seconds=1.0, iters=2)

    def finetune(variant, *a, **k):
        print(f'RUNNER LOG {variant}')
        return dict(mIoU=12.5, mAcc=20.0, seconds=0.1, cpu_seconds=0.1)

    monkeypatch.setattr(lab_experiment, 'pretrain', pretrain)
    monkeypatch.setattr(lab_experiment, 'finetune', finetune)
    monkeypatch.setattr(lab_experiment, 'load_backbone', lambda path: None)
    monkeypatch.setattr(lab_experiment, 'untrained_lab_backbone', lambda *a: None)
    monkeypatch.setattr(lab_experiment, 'param_budget', lambda *a: {'rats': 1})
    monkeypatch.setattr(lab_experiment, 'diagnose', lambda *a: {})
    monkeypatch.setattr(lab_experiment, 'part_discovery', lambda *a: {'per_k': {'8': {'m2o': 30.0}}})
    monkeypatch.setattr(lab_experiment, 'knn_accuracy', lambda *a: 50.0)
    argv = ['--setting', 'quick', '--models', 'rats', '--work-dir', str(tmp_path)] + ['--verbose'] * verbose
    assert lab_experiment.main(argv) == 0
    out, err = capfd.readouterr()
    assert '==> DINO pretraining rats/seed0' in out and 'M2O@8 pretrained 30.0' in out
    assert '==> Mask2Former rats-regq/seed0' in out and 'mIoU 12.50' in out
    assert ('RUNNER' in out + err) == verbose
    if not verbose:
        log = (tmp_path / 'logs' / 'pretrain_rats_seed0.log').read_text()
        assert 'RUNNER LOG rats' in log and 'RUNNER WARNING' in log
        assert 'RUNNER LOG rats-learned' in (tmp_path / 'logs' / 'mask2former_rats-learned_seed0.log').read_text()


@pytest.mark.parametrize('threads, reading', [(1, 'wall time about CPU time'), (2, 'CPU time / 2')])
def test_the_time_line_reads_the_times_by_the_thread_count(threads, reading):
    line = time_line(dict(threads=threads, total_seconds=600.0, total_cpu_seconds=900.0))
    assert line.startswith('Total wall time 10.0 min, CPU time 15.0 min')
    assert reading in line
    assert ('CPU time / 2' in line) == (threads > 1)


def _one_row_run(model: str, **cfg_options) -> dict:
    """A one-seed results dict holding the part-discovery and k-NN rows of ``model`` only."""
    part = dict(method='registers', num_maps=8, per_k={'8': dict(m2o=20.0, o2o=18.0, ari=9.0)})
    return dict(setting='long', sizes=dict(seeds=[0], top_ks=[8]), models=[model], params={model: 1000},
                cfg_options=cfg_options, parts={f'{model}/seed0/pretrained': part}, diagnostics={}, pretrain={},
                knn={f'{model}/seed0/pretrained': 12.0, f'{model}/seed0/untrained': 11.0}, m2f={})


@pytest.mark.parametrize('model, options, name', [
    ('rats', {}, 'RATS (16 registers)'),
    ('rats', {'model.backbone.arch.num_registers': 8}, 'RATS (8 registers)'),
    ('vitreg', {'model.backbone.num_registers': 4}, 'ViT + 4 registers'),
    ('vit-lastvit', {}, 'ViT (LaSt-ViT aggregate)'),
    ('rats-codebook', {}, 'RATS (16 registers) + codebook'),
])
def test_report_names_every_model_with_its_register_count(model, options, name):
    tables = lab_markdown(_one_row_run(model, **options))
    assert f'Backbone parameters: {name} 1,000' in tables
    assert f'| {name} | pretrained | registers (8) |' in tables
    assert f'| {name} | 12.0 ± 0.0 | 11.0 ± 0.0 |' in tables


# --- issue #26's controls: the supervised objective, the colour-uninformative data, the no-colour augmentations ---

@pytest.mark.slow
def test_quick_supervised_run(tmp_path):
    """--objective supervised, end to end for the three models: training, the DINO runs' evaluation of their
    backbones, tables and pictures (Mask2Former is the DINO runs' step: test_quick_colour_controls_run runs it);
    about 30 s on the idle 2-core machine, slow as test_quick_run is."""
    argv = ['--setting', 'quick', '--objective', 'supervised', '--no-finetune', '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 0
    res = json.loads((tmp_path / 'lab_results.json').read_text())
    assert (res['objective'], res['data_variant'], res['augment']) == ('supervised', 'default', 'default')
    for m, method in (('rats', 'registers'), ('vit', 'cls-attn'), ('vitreg', 'register-attn')):
        r = res['pretrain'][f'{m}/seed0']
        assert r['iters'] == 2 and 0 <= r['accuracy'] <= 100 and r['near_chance'] == (r['accuracy'] < 200 / 9)
        assert 'accuracy_top-1' in r['epochs'][0] and 'accuracy/top1' in r['val'][0]
        for state in ('pretrained', 'untrained'):  # exactly what a DINO run records
            assert res['parts'][f'{m}/seed0/{state}']['method'] == method
            assert set(res['parts'][f'{m}/seed0/{state}']['per_k']) == {'2', '4', '8', '16'}
            assert 'specialisation' in res['diagnostics'][f'{m}/seed0/{state}']
            assert 0 <= res['knn'][f'{m}/seed0/{state}'] <= 100
    md = (tmp_path / 'lab_results.md').read_text()
    for text in ('## Supervised training', 'held-out test accuracy (chance 11.1)', 'linear head, held-out test',
                 '| supervised | registers (16) |', 'objective `supervised`'):
        assert text in md
    assert 'DINO' not in md
    for name in ('grid.png', 'curves.png', 'rats_pretrained_heads_0.png'):
        assert (tmp_path / 'pictures' / name).stat().st_size > 1000
    assert lab_experiment.main(['--report', '--work-dir', str(tmp_path)]) == 0
    assert (tmp_path / 'lab_results.md').read_text() == md
    # a DINO run cannot continue it
    assert lab_experiment.main(['--setting', 'quick', '--models', 'rats', '--resume', '--work-dir', str(tmp_path)]) == 2


@pytest.mark.slow
def test_quick_colour_controls_run(tmp_path):
    """DINO on the colour-uninformative objects without colour augmentations, end to end for RATS with its
    Mask2Former (about 40 s on the idle 2-core machine)."""
    argv = ['--setting', 'quick', '--data-variant', 'colour-uninformative', '--augment', 'no-colour', '--models',
            'rats', '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 0
    res = json.loads((tmp_path / 'lab_results.json').read_text())
    assert (res['objective'], res['data_variant'], res['augment']) == ('dino', 'colour-uninformative', 'no-colour')
    assert res['pretrain']['rats/seed0']['iters'] == 2 and set(res['m2f']) == {'rats-regq/seed0', 'rats-learned/seed0'}
    # the pretraining ran on the control's data and views (mmengine's copy of the config it ran)
    from mmengine.config import Config
    ran = Config.fromfile(str(next((tmp_path / 'pretrain' / 'rats' / 'seed0').glob('dino_*.py'))))
    assert ran.train_dataloader.dataset.gen_cfg == ran.val_dataloader.dataset.gen_cfg == dict(colour='uninformative')
    assert 'ColorJitter' not in str(ran.train_dataloader.dataset.pipeline)
    manifest = json.loads((tmp_path / 'data' / 'manifest.json').read_text())  # Mask2Former's data too
    assert manifest['params']['config']['colour'] == 'uninformative'
    md = (tmp_path / 'lab_results.md').read_text()
    assert 'data variant `colour-uninformative`, augment `no-colour`' in md and '## DINO pretraining' in md


def test_the_data_variant_reaches_the_held_out_images_and_the_mask2former_data(tmp_path, no_work, monkeypatch):
    seen = dict(held_out=[], written=[])
    monkeypatch.setattr(lab_experiment, 'held_out', lambda n, split, **k: seen['held_out'].append((split, k)))
    monkeypatch.setattr(lab_experiment, 'write_part_objects', lambda root, n, cfg: seen['written'].append(cfg))
    _saved_quick_run(tmp_path, data_variant='colour-uninformative',
                     m2f={v: {'mIoU': 1.0} for v in ('rats-regq/seed0', 'rats-learned/seed0')})
    argv = ['--setting', 'quick', '--models', 'rats', '--resume', '--data-variant', 'colour-uninformative',
            '--work-dir', str(tmp_path)]
    assert lab_experiment.main(argv) == 0
    assert seen['held_out'] == [('test', dict(data_variant='colour-uninformative')),
                                ('train', dict(data_variant='colour-uninformative'))]
    assert [c.colour for c in seen['written']] == ['uninformative']


@pytest.mark.parametrize('saved, argv, key', [
    (dict(objective='supervised'), [], 'objective'),
    ({}, ['--objective', 'supervised'], 'objective'),
    (dict(data_variant='colour-uninformative'), [], 'data_variant'),
    ({}, ['--data-variant', 'colour-uninformative'], 'data_variant'),
    (dict(augment='no-colour'), [], 'augment'),
    ({}, ['--augment', 'no-colour'], 'augment'),
])
def test_resume_refuses_another_objective_data_variant_or_augmentation(tmp_path, no_work, capsys, saved, argv, key):
    _saved_quick_run(tmp_path, **saved)  # {}: a run saved before the controls existed (DINO, default data and views)
    before = (tmp_path / 'lab_results.json').read_text()
    assert lab_experiment.main(['--setting', 'quick', '--models', 'rats', '--resume', '--work-dir', str(tmp_path),
                                *argv]) == 2
    err = capsys.readouterr().err
    assert f'was run with {key} ' in err and 'another --work-dir' in err
    assert (tmp_path / 'lab_results.json').read_text() == before and no_work['finetune'] == []


@pytest.mark.parametrize('change, key', [(dict(objective='supervised'), 'objective'),
                                         (dict(data_variant='colour-uninformative'), 'data_variant'),
                                         (dict(augment='no-colour'), 'augment')])
def test_merge_refuses_runs_of_another_objective_data_variant_or_augmentation(change, key):
    with pytest.raises(ValueError, match=f"in '{key}' \\("):
        merge_results([_run([0]), {**_run([1]), **change}], ['a', 'b'])
    with pytest.raises(ValueError, match=f"in '{key}' \\("):  # either order: the one without it is the default
        merge_results([{**_run([0]), **change}, _run([1])], ['a', 'b'])
    merged = merge_results([{**_run([0]), **change}, {**_run([1]), **change}], ['a', 'b'])
    assert merged[key] == change[key]
    # a run saved before the controls merges with one that records the defaults
    assert merge_results([_run([0]), _run([1], objective='dino', data_variant='default', augment='default')],
                         ['a', 'b'])['objective'] == 'dino'


def test_supervised_needs_a_model_with_a_supervised_config(capsys):
    with pytest.raises(SystemExit):
        lab_experiment.parse_args(['--objective', 'supervised', '--models', 'rats', 'rats-codebook'])
    assert "not ['rats-codebook']" in capsys.readouterr().err


def test_merge_of_runs_kept_as_json_only(tmp_path, capsys):
    """docs/lab_runs keeps each control run's lab_results.json, not its backbones: merging them gives the
    tables (mean ± std over the seeds) and a note instead of the pictures, not a traceback."""
    runs = [f'docs/lab_runs/controls/sup100_s{s}/rats' for s in (1, 2)]
    assert lab_experiment.main(['--merge', *runs, '--work-dir', str(tmp_path)]) == 0
    md = (tmp_path / 'lab_results.md').read_text()
    assert '2 seeds: 1, 2; mean ± std over seeds' in md and 'objective `supervised`' in md
    assert 'no pictures: the backbone work_dirs/lab/controls/sup100_s1/rats' in capsys.readouterr().out
    assert not (tmp_path / 'pictures').exists()

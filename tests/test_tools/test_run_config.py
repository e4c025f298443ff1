"""Command-line config handling shared by tools/train.py and tools/test.py."""
import argparse

import pytest
import torch

from mmrats.utils.run_config import build_cfg
from tests.conftest import REPO

DINO_S = str(REPO / 'configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py')


def args(**kw):
    base = dict(config=DINO_S, launcher='none', cfg_options=None, work_dir=None, amp=False, resume=None,
                show_dir=None)
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU fallback only applies without CUDA')
def test_bf16_config_runs_in_float32_on_the_cpu(capsys):
    cfg = build_cfg(args())
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'dtype' not in cfg.optim_wrapper
    assert 'no CUDA device' in capsys.readouterr().err
    assert cfg.work_dir.endswith('dino_rats-s16_8xb96-300e_in1k-224')


def test_resume_and_missing_files(tmp_path):
    cfg = build_cfg(args(resume='auto', work_dir=str(tmp_path)))
    assert cfg.resume is True and cfg.load_from is None and cfg.work_dir == str(tmp_path)
    with pytest.raises(SystemExit, match='does not exist'):
        build_cfg(args(resume=str(tmp_path / 'none.pth')))
    with pytest.raises(SystemExit, match='does not exist'):
        build_cfg(args(config=str(tmp_path / 'nope.py')))


# --amp and the precision each machine gets (issue #24): CUDA and its bf16 support are patched, so the three
# cases run here on the CPU; no real GPU iteration was run for them
M2F_SEG = str(REPO / 'configs/mask2former/mask2former_rats-s16_8xb1-160k_ade20k-512x512.py')
M2F_DET = str(REPO / 'configs/mask2former/mask2former_rats-s16_8xb1-lsj-368k_coco-1024x1024.py')
DEVICES = {'bf16 GPU': (True, True), 'older GPU': (True, False), 'CPU': (False, False)}


@pytest.fixture
def device(monkeypatch):
    def use(name):
        cuda, bf16 = DEVICES[name]
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
        monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda including_emulation=True: bf16)
    return use


@pytest.mark.parametrize('config', [M2F_SEG, M2F_DET])
def test_amp_picks_bf16_float16_or_float32(config, device, capsys):
    expected = {'bf16 GPU': ('AmpOptimWrapper', 'bfloat16', dict(enabled=False)),  # no loss scaling
                'older GPU': ('AmpOptimWrapper', 'float16', 'dynamic'),
                'CPU': ('OptimWrapper', None, None)}
    for name, want in expected.items():
        device(name)
        ow = build_cfg(args(config=config, amp=True)).optim_wrapper
        assert (ow.type, ow.get('dtype'), ow.get('loss_scale')) == want, name
        assert ow.optimizer.lr == 1e-4 and ow.clip_grad == dict(max_norm=0.01, norm_type=2)  # the rest kept
        err = capsys.readouterr().err
        assert ('no CUDA device' in err) == (name == 'CPU')
        # without --amp: float32 everywhere, as the stock recipe
        ow = build_cfg(args(config=config)).optim_wrapper
        assert ow.type == 'OptimWrapper' and 'dtype' not in ow and 'loss_scale' not in ow


def test_amp_keeps_a_dtype_given_on_the_command_line(device):
    device('bf16 GPU')
    ow = build_cfg(args(config=M2F_SEG, amp=True, cfg_options={'optim_wrapper.dtype': 'float16'})).optim_wrapper
    assert (ow.type, ow.dtype, ow.loss_scale) == ('AmpOptimWrapper', 'float16', 'dynamic')


def test_bf16_dino_configs_on_each_device(device, capsys):
    device('bf16 GPU')
    for amp in (False, True):
        ow = build_cfg(args(amp=amp)).optim_wrapper
        assert (ow.type, ow.dtype) == ('AmpOptimWrapper', 'bfloat16') and 'loss_scale' not in ow
    assert 'AMP is already on' in capsys.readouterr().out
    device('older GPU')
    ow = build_cfg(args()).optim_wrapper
    assert (ow.type, ow.dtype, ow.get('loss_scale', 'dynamic')) == ('AmpOptimWrapper', 'float16', 'dynamic')
    assert 'no native bfloat16' in capsys.readouterr().err
    device('CPU')
    assert build_cfg(args()).optim_wrapper.type == 'OptimWrapper'


def test_the_bf16_wrapper_builds_without_a_loss_scaler(device, monkeypatch):
    """mmengine accepts what --amp writes for a bf16 GPU: a disabled GradScaler, whose state round-trips."""
    from mmengine.optim import build_optim_wrapper
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module

    device('bf16 GPU')
    ow_cfg = build_cfg(args(config=M2F_SEG, amp=True)).optim_wrapper
    device('CPU')  # the machine as it is, but for the wrapper's own device check:
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    model = torch.nn.Linear(2, 2)
    ow_cfg.pop('paramwise_cfg')  # keys of the real model
    wrapper = build_optim_wrapper(model, ow_cfg)
    assert type(wrapper).__name__ == 'AmpOptimWrapper' and wrapper.cast_dtype == torch.bfloat16
    assert not wrapper.loss_scaler.is_enabled()  # (on the CPU torch disables any GradScaler: the cfg test above
    # is the one that sees dict(enabled=False))
    loss = model(torch.ones(1, 2)).sum()
    assert wrapper.loss_scaler.scale(loss) is loss  # unscaled
    state = wrapper.state_dict()
    wrapper.load_state_dict(state)


def test_auto_scale_lr_and_amp_in_a_real_cpu_run(tmp_path, capsys):
    """tools/train.py --amp --auto-scale-lr, 1 iteration of the demo on the CPU: float32 (the note) and the
    lr scaled by the Runner, 5e-4 x (1 process x batch 2) / 16."""
    import json
    from tests.test_tools.test_train_tools import SEG, short_run, train_tool
    from mmrats.datasets.synthetic_scenes import write_dataset

    if torch.cuda.is_available():
        pytest.skip('the CPU run')
    write_dataset(str(tmp_path / 'data'), num_train=2, num_val=1, size=128, seed=0)
    wd = tmp_path / 'run'
    argv = short_run(tmp_path / 'data', SEG, wd, 1, ['--amp', '--auto-scale-lr'])
    argv[argv.index('train_cfg.val_interval=1')] = 'train_cfg.val_interval=100'
    assert train_tool.main([SEG, *argv]) == 0
    assert 'no CUDA device' in capsys.readouterr().err
    rows = [json.loads(line) for p in wd.glob('*/vis_data/scalars.json') for line in p.read_text().splitlines()]
    assert [r['lr'] for r in rows if 'loss' in r] == [pytest.approx(5e-4 * 2 / 16)]


def test_exit_process_leaves_without_finalisation_after_a_distributed_run(monkeypatch):
    """After release_distributed closed the group, the tools end with os._exit once the logs are flushed (gloo's
    threads could still abort interpreter finalisation); without a group they exit normally."""
    from mmrats.utils import run_config
    calls = []
    monkeypatch.setattr(run_config.os, '_exit', lambda code: calls.append(('_exit', code)))
    monkeypatch.setattr(run_config.logging, 'shutdown', lambda: calls.append('logs flushed'))
    monkeypatch.setattr(run_config, '_CLOSED_GROUP', True)
    with pytest.raises(SystemExit):  # the patched os._exit returns, so the normal exit follows here
        run_config.exit_process(3)
    assert calls == ['logs flushed', ('_exit', 3)]
    calls.clear()
    monkeypatch.setattr(run_config, '_CLOSED_GROUP', False)
    with pytest.raises(SystemExit) as e:
        run_config.exit_process(2)
    assert e.value.code == 2 and calls == []

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

"""tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh run the project's environment.

They are run from a shell where no environment is activated (PATH without the
venv, no VIRTUAL_ENV, no PYTHON): the launchers must find the python
themselves (tools/setup/setup_env.sh), not take whatever ``python`` is on PATH.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, write_scenes

SEG = 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py'
VENV_BIN = str(Path(sys.executable).parent)


def plain_shell_env(**extra) -> dict:
    """The environment of a fresh login shell: the test's venv is not on PATH and nothing names it."""
    env = {k: v for k, v in os.environ.items() if k not in ('VIRTUAL_ENV', 'PYTHON', 'PYTHONPATH', 'PYTHONHOME')}
    env['PATH'] = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep) if p and p != VENV_BIN)
    env['OMP_NUM_THREADS'] = '1'
    env.update(extra)
    return env


def tiny_run_args(root: Path, work_dir: Path) -> list[str]:
    data = f'{root}/ade'
    return ['--work-dir', str(work_dir), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
            *[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.num_workers=0' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.persistent_workers=False' for s in ('train', 'val', 'test')],
            'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
            'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2']


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory, num_train=8, num_val=4, size=128)


def test_plain_shell_has_no_torch():
    """The premise: in the plain shell, `python3` from PATH cannot run the tools."""
    out = subprocess.run(['python3', '-c', 'import torch'], capture_output=True, text=True, env=plain_shell_env())
    if out.returncode == 0:
        pytest.skip('the python on PATH has torch: this machine cannot show the difference')
    assert 'torch' in out.stderr


def test_dist_train_and_dist_test_two_cpu_processes(scenes, tmp_path):
    wd = tmp_path / 'dist'
    env = plain_shell_env(PORT=str(free_port()))
    out = subprocess.run(['bash', 'tools/dist_train.sh', SEG, '2', *tiny_run_args(scenes, wd)],
                         capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    log = next(wd.glob('*/*.log')).read_text()
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    ckpt = wd / 'iter_2.pth'
    assert ckpt.exists()

    env['PORT'] = str(free_port())
    out = subprocess.run(['bash', 'tools/dist_test.sh', SEG, str(ckpt), '2', *tiny_run_args(scenes, tmp_path / 't')],
                         capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    metrics = [line for line in out.stdout.splitlines() if line.startswith('{') and 'mIoU' in line]
    assert metrics, out.stdout[-2000:]  # each rank prints the gathered metrics
    log = next((tmp_path / 't').glob('*/*.log')).read_text()
    assert 'GPU number: 2' in log  # mmengine's name for the world size


def test_python_variable_overrides(tmp_path):
    fake = tmp_path / 'python'
    fake.write_text('#!/usr/bin/env bash\necho "fake python: $*"\n')
    fake.chmod(0o755)
    out = subprocess.run(['bash', 'tools/dist_train.sh', SEG, '3', '--work-dir', 'x'], capture_output=True,
                         text=True, env=plain_shell_env(PYTHON=str(fake), PORT='12345'), cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('fake python: -m torch.distributed.run')
    assert '--nproc_per_node=3 --master_port=12345' in out.stdout
    assert out.stdout.rstrip().endswith(f'tools/train.py {SEG} --launcher pytorch --work-dir x')


@pytest.mark.parametrize('script,args,tool,tail', [
    ('slurm_train.sh', ['part', 'job', SEG, '--work-dir', 'w'], 'train.py',
     [SEG, '--launcher', 'slurm', '--work-dir', 'w']),
    ('slurm_test.sh', ['part', 'job', SEG, 'ckpt.pth', '--show-dir', 's'], 'test.py',
     [SEG, 'ckpt.pth', '--launcher', 'slurm', '--show-dir', 's']),
])
def test_slurm_scripts_call_srun_with_the_environment_python(tmp_path, script, args, tool, tail):
    """A stand-in `srun` records its arguments: the OpenMMLab variables reach it, and the python it
    is given is the project's environment (found by the set-up, not taken from PATH)."""
    srun = tmp_path / 'srun'
    srun.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n')
    srun.chmod(0o755)
    env = plain_shell_env(SRUN_LOG=str(tmp_path / 'args'), GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='4',
                          SRUN_ARGS='--quotatype=auto --time=10')
    env['PATH'] = f'{tmp_path}{os.pathsep}{env["PATH"]}'
    out = subprocess.run(['bash', f'tools/{script}', *args], capture_output=True, text=True, timeout=300,
                         env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    argv = (tmp_path / 'args').read_text().splitlines()
    assert argv[:8] == ['-p', 'part', '--job-name=job', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
                        '--cpus-per-task=4', '--kill-on-bad-exit=1']
    assert argv[8:10] == ['--quotatype=auto', '--time=10']
    python = argv[10]
    check = subprocess.run([python, '-c', 'import torch, mmcv.ops, mmrats; print(mmrats.__file__)'],
                           capture_output=True, text=True, env=plain_shell_env())
    assert check.returncode == 0, check.stderr[-2000:]
    assert argv[11:13] == ['-u', str(REPO / 'tools' / tool)]
    assert argv[13:] == tail


@pytest.mark.parametrize('script,nargs', [('dist_train.sh', 2), ('dist_test.sh', 3), ('slurm_train.sh', 3),
                                          ('slurm_test.sh', 4)])
def test_missing_arguments_print_usage(script, nargs):
    out = subprocess.run(['bash', f'tools/{script}', *['a'] * (nargs - 1)], capture_output=True, text=True,
                         env=plain_shell_env(PYTHON='/nonexistent'), cwd=REPO)
    assert out.returncode == 2
    assert out.stderr.startswith(f'usage: bash tools/{script}')

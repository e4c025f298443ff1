"""tools/setup/build_mmcv.sh: the wheel cache is keyed by the build flavour (CPU vs CUDA).

A fake python answers the script's torch queries and records its pip calls (a
``pip wheel`` drops a fake wheel), a fake nvcc reports a release: no mmcv is
built here.
"""
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

FAKE_PY = r'''#!/usr/bin/env bash
if [[ "$1" == -c ]]; then
  case "$2" in
    *__version__*) echo 2.14.1_cu130 ;;
    *is_available*) [[ "${FAKE_GPU:-0}" == 1 ]]; exit $? ;;
    *get_device_capability*) echo 9.0 ;;
    *version.cuda*) echo 13.0 ;;
  esac
  exit 0
fi
if [[ "$1 $2" == "-m pip" ]]; then
  echo "pip $3 ${@: -1} FORCE_CUDA=${FORCE_CUDA:-} ARCH=${TORCH_CUDA_ARCH_LIST:-}" >> "$FAKE_LOG"
  if [[ "$3" == wheel ]]; then
    while [[ $# -gt 0 ]]; do [[ "$1" == -w ]] && out="$2"; shift; done
    mkdir -p "$out" && touch "$out/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
    [[ -n "${PYTORCH_NVCC:-}" ]] && echo "nvcc wrapper: $("$PYTORCH_NVCC" -std=c++17 -O3)" >> "$FAKE_LOG"
  fi
fi
'''
FAKE_NVCC = '''#!/usr/bin/env bash
if [[ "$1" == --version ]]; then echo "Cuda compilation tools, release 13.0, V13.0.88"; else echo "$@"; fi
'''
CPU_WHEEL = 'torch-2.14.1_cu130/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fake(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    executable(bin_dir / 'python', FAKE_PY)
    wheels = tmp_path / 'wheels'
    (wheels / CPU_WHEEL).parent.mkdir(parents=True)
    (wheels / CPU_WHEEL).touch()  # the CPU wheel already cached

    def run(gpu: bool, nvcc: bool, **env):
        if nvcc:
            executable(bin_dir / 'nvcc', FAKE_NVCC)
        log = tmp_path / 'log.txt'
        log.unlink(missing_ok=True)
        full_env = dict(os.environ, FAKE_GPU='1' if gpu else '0', FAKE_LOG=str(log),
                        PATH=f"{bin_dir}:/usr/bin:/bin", **env)  # no real nvcc
        for key in ('TORCH_CUDA_ARCH_LIST', 'FORCE_CUDA', 'PYTORCH_NVCC', 'MMRATS_MMCV_CPU_ONLY'):
            if key not in env:
                full_env.pop(key, None)
        proc = subprocess.run(['bash', str(REPO / 'tools/setup/build_mmcv.sh'), str(bin_dir / 'python'),
                               str(wheels)], env=full_env, capture_output=True, text=True)
        return proc, (log.read_text().splitlines() if log.exists() else [])
    return run, wheels


def test_cpu_machine_reuses_the_cached_cpu_wheel(fake):
    run, wheels = fake
    proc, log = run(gpu=False, nvcc=False)
    assert proc.returncode == 0, proc.stderr
    assert log == [f'pip install {wheels / CPU_WHEEL} FORCE_CUDA= ARCH=']  # no build


def test_gpu_machine_builds_cuda_ops_and_never_takes_the_cpu_wheel(fake):
    run, wheels = fake
    proc, log = run(gpu=True, nvcc=True)
    assert proc.returncode == 0, proc.stderr
    cuda_dir = wheels / 'torch-2.14.1_cu130-cuda13.0-sm90'
    assert log[0] == 'pip wheel mmcv==2.1.0 FORCE_CUDA=1 ARCH=9.0'
    assert log[1] == 'nvcc wrapper: -std=c++20 -O3'  # the C++20 rewrite reaches nvcc too
    assert log[2] == f'pip install {cuda_dir}/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl FORCE_CUDA=1 ARCH=9.0'
    assert (wheels / CPU_WHEEL).exists()
    # and the next run on that machine reuses the CUDA wheel
    proc, log = run(gpu=True, nvcc=True)
    assert proc.returncode == 0 and [line.split()[1] for line in log] == ['install']
    assert str(cuda_dir) in log[0]


def test_gpu_without_nvcc_is_an_error_unless_cpu_only_is_asked_for(fake):
    run, wheels = fake
    proc, log = run(gpu=True, nvcc=False)
    assert proc.returncode == 1 and log == []
    assert 'nvcc is not on PATH' in proc.stderr and 'MMRATS_MMCV_CPU_ONLY=1' in proc.stderr
    proc, log = run(gpu=True, nvcc=False, MMRATS_MMCV_CPU_ONLY='1')
    assert proc.returncode == 0 and log == [f'pip install {wheels / CPU_WHEEL} FORCE_CUDA= ARCH=']


def test_an_explicit_arch_list_keys_the_cache(fake):
    run, wheels = fake
    proc, log = run(gpu=True, nvcc=True, TORCH_CUDA_ARCH_LIST='8.0;9.0+PTX')
    assert proc.returncode == 0, proc.stderr
    assert 'torch-2.14.1_cu130-cuda13.0-sm80_90+' in log[-1] and 'ARCH=8.0;9.0+PTX' in log[-1]

"""tools/gpu_check.sh (issue #25): the prepared GPU check, run here at tiny sizes on the CPU.

About 40 CPU-s: the four tools at tiny sizes, each in its own process, as the GPU call runs them.
"""
import json
import os
import subprocess
import sys
import tarfile

from tests.conftest import REPO, load_tool

device_parity = load_tool('tools/analysis/device_parity.py')


def test_tiny_check_runs_every_step_and_writes_its_tables(tmp_path):
    out = tmp_path / 'gpu_check'
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(['bash', str(REPO / 'tools/gpu_check.sh'), '--tiny', str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr + (out / 'gpu_check.log').read_text()[-3000:]
    assert [line for line in proc.stdout.splitlines() if line.startswith('==>')] == [
        '==> parity', '==> benchmark', '==> memory', '==> train']
    md = (out / 'gpu_check.md').read_text()
    assert md.startswith('# GPU check (') and '0 failed steps' in md
    for table in ('# Attention paths on the CPU', '| 32x32 | RATS-S/16 |', 'predicted peak',
                  '`dino_rats-s16_8xb96-300e_in1k-224.py` | 1 |'):
        assert table in md, table
    with tarfile.open(out / 'gpu_check.tar.gz') as tar:
        names = set(tar.getnames())
        parity = json.load(tar.extractfile('steps/parity/device_parity.json'))
        (train,) = json.load(tar.extractfile('steps/train/train_step_benchmark.json'))['rows']
    assert {'steps/benchmark/benchmark_cpu.json', 'steps/memory/memory_estimate.json'} <= names
    assert all(r['ok'] for r in parity['rows'])
    assert {(r['model'], r['attention'], r['dtype']) for r in parity['rows']} == {
        (m, a, d) for m in ('RATS', 'RATS + parallel', 'ViT (mhsa)') for a in ('fused', 'manual')
        for d in ('float32', 'bfloat16')}
    assert train['iters'] == 1 and train['batch_per_process'] == 1


def test_parity_compares_the_same_weights_and_flags_a_path_that_differs(tmp_path, monkeypatch, capsys):
    """bf16 on the CPU is within its tolerance; a device path that computes something else is not (exit 1)."""
    from mmrats.utils.benchmark import parity
    args = ['--device', 'cpu', '--tiny', '--models', 'RATS', '--dtypes', 'bfloat16', '--out-dir', str(tmp_path)]
    assert device_parity.main(args) == 0
    rows = json.loads((tmp_path / 'device_parity.json').read_text())['rows']
    assert all(0 < r['out_rel_err'] < 5e-2 and 0 < r['grad_rel_err'] < 5e-2 for r in rows)
    real = parity._run

    def wrong_on_device(model, x, weights, amp, g=None):  # the device run's registers off by a little
        if amp:
            model.registers.data.mul_(1.1)
        return real(model, x, weights, amp, g)

    monkeypatch.setattr(parity, '_run', wrong_on_device)
    assert device_parity.main(args) == 1
    assert 'rows outside their tolerance: RATS fused 32 bfloat16' in capsys.readouterr().err


def test_the_package_imports_without_mmdet_mmseg_and_mmcv_ops():
    """The GPU machine has torch + the carried mmengine / mmcv-lite / mmpretrain wheels only."""
    code = ("import sys\n"
            "for n in ('mmdet', 'mmseg', 'mmcv.ops', 'mmcv._ext'):\n"
            "    sys.modules[n] = None  # import fails, find_spec gives None: as if not installed\n"
            "import mmrats, mmrats.models, mmrats.datasets, mmrats.utils.benchmark.parity\n"
            "from mmrats.registry import DATASETS, MODELS\n"
            "assert MODELS.get('RATSViT') and DATASETS.get('PartObjectsDataset')\n"
            "assert 'SyntheticSceneCocoDataset' not in mmrats.datasets.__all__\n"
            "print('imported')\n")
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0 and 'imported' in proc.stdout, proc.stderr[-3000:]

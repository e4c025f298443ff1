"""tools/analysis/train_step_benchmark.py: a real config's training iterations on embedded data."""
import json

from tests.conftest import REPO
from tools.analysis import train_step_benchmark

SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')


def test_writes_table_and_json(tmp_path):
    out = tmp_path / 'out'
    assert train_step_benchmark.main([SEG, '--iters', '1', '--warmup', '1', '--batch-size', '2',
                                      '--data-root', str(tmp_path / 'data'), '--out-dir', str(out)]) == 0
    (row,) = json.loads((out / 'train_step_benchmark.json').read_text())['rows']
    assert row['batch_per_process'] == 2 and row['iters'] == 1
    assert row['seconds_per_iter'] > 0 and row['peak_memory_gib'] > 0 and row['params'] > 600_000
    md = (out / 'train_step_benchmark.md').read_text()
    assert 'mask2former_rats-demo-regq' in md and '| 2 |' in md

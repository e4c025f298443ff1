"""tools/analysis/train_step_benchmark.py: a real config's training iterations on embedded data."""
import json
from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from tests.conftest import REPO, load_tool

train_step_benchmark = load_tool('tools/analysis/train_step_benchmark.py')

SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')


def test_writes_table_and_json(tmp_path):
    out = tmp_path / 'out'
    assert train_step_benchmark.main([SEG, '--iters', '1', '--warmup', '1', '--batch-size', '2',
                                      '--data-root', str(tmp_path / 'data'), '--out-dir', str(out)]) == 0
    (row,) = json.loads((out / 'train_step_benchmark.json').read_text())['rows']
    assert row['batch_per_process'] == 2 and row['iters'] == 1
    assert row['seconds_per_iter'] > 0 and row['peak_memory_gib'] > 0
    assert row['images_per_s'] == pytest.approx(2 / row['seconds_per_iter'])
    # the run trained 1 warm-up + 1 timed iteration of the config's own model
    logged = [json.loads(line) for p in (out / Path(SEG).stem).glob('*/vis_data/scalars.json')
              for line in p.read_text().splitlines()]
    assert [r['iter'] for r in logged if 'loss' in r] == [1, 2]
    register_all_modules()
    model = MODELS.build(Config.fromfile(SEG).model)
    assert row['params'] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    md = (out / 'train_step_benchmark.md').read_text()
    assert 'mask2former_rats-demo-regq' in md and '| 2 |' in md

"""Every config brings its own modules: ``custom_imports`` names mmrats, so that any entry point that reads the
config (the stock inferencers, ``init_model``, ``mmpretrain.get_model``, ...) imports mmrats, its registries
and its checkpoint allow-list, before it reads a checkpoint (tests/test_apis/test_stock_entry_points.py)."""
import pytest
from mmengine.config import Config

from tests.conftest import REPO

EXPECTED = dict(imports=['mmrats'], allow_failed_imports=False)
FOLDERS = ('mask2former', 'dino', 'demo', 'lab', 'custom', 'linear_probe')
# the 4 bases all of them inherit from (configs/_base_/ also holds partial files: values, data pipelines)
BASES = ('dino_rats-s16_in1k-224.py', 'mask2former_vit-s16_8xb1-160k_ade20k-512x512.py',
         'mask2former_vit-s16_8xb1-lsj-368k_coco-1024x1024.py', 'linear-probe_in1k-224.py')
CONFIGS = sorted(str(p.relative_to(REPO)) for folder in FOLDERS for p in (REPO / 'configs' / folder).glob('*.py'))


def test_every_config_folder_is_covered():
    folders = {p.parent.name for p in (REPO / 'configs').glob('*/*.py')} - {'_base_'}
    assert folders == set(FOLDERS), 'a new config folder: add it to FOLDERS'
    assert len(CONFIGS) >= 27


@pytest.mark.parametrize('config', CONFIGS + [f'configs/_base_/{b}' for b in BASES])
def test_custom_imports_names_mmrats(config):
    # the text of the config only: mmrats is imported by the test session anyway
    cfg = Config.fromfile(str(REPO / config), import_custom_modules=False)
    assert cfg.get('custom_imports') == EXPECTED, f'{config}: custom_imports = {cfg.get("custom_imports")}'

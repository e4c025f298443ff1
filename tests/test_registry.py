"""``type='mmrats.RATSViT'`` resolves from the mmseg, mmdet and mmpretrain scopes."""
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

SCOPES = ['mmseg', 'mmdet', 'mmpretrain']


@pytest.mark.parametrize('scope', SCOPES)
def test_lookup_from_each_default_scope_in_a_fresh_process(scope):
    """No ``import mmrats`` and no ``custom_imports``: mmengine imports our scope itself."""
    code = textwrap.dedent(f"""
        import sys
        from mmengine.registry import DefaultScope
        from {scope}.registry import MODELS
        from {scope}.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        assert 'mmrats' not in sys.modules
        with DefaultScope.overwrite_default_scope('{scope}'):
            m = MODELS.build(dict(type='mmrats.RATSViT', arch='tiny'))
        print(type(m).__module__, type(m).__name__)
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd='/', timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-2:] == ['mmrats.models.backbones.rats_vit', 'RATSViT']


def test_stock_mmseg_model_runs_with_ratsvit():
    """The feature-map tuple feeds a stock mmseg EncoderDecoder and head unchanged."""
    import torch
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = dict(type='EncoderDecoder',
               data_preprocessor=dict(type='SegDataPreProcessor', size_divisor=16),
               backbone=dict(type='mmrats.RATSViT', arch='tiny', out_indices=(0, 1)),
               decode_head=dict(type='FCNHead', in_channels=64, channels=16, num_convs=1, num_classes=3,
                                in_index=-1, loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)))
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg)
    out = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert out.shape == (2, 3, 4, 4)


def test_registry_scope():
    from mmrats.registry import MODELS
    assert MODELS.scope == 'mmrats' and MODELS.parent.scope == 'mmengine'
    assert MODELS.get('RATSViT') is not None

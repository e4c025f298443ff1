"""mmrats: Register Attention Transformers for OpenMMLab.

Dependencies are pinned in ``requirements/pinned.txt`` and installed by
``tools/setup/setup_env.sh`` (mmcv must be compiled; see docs/install.md).
"""
from pathlib import Path

from setuptools import find_packages, setup

version: dict = {}
exec(Path(__file__).with_name('mmrats').joinpath('version.py').read_text(), version)

setup(
    name='mmrats',
    version=version['__version__'],
    description='RATS (Register Attention Transformers) for OpenMMLab',
    packages=find_packages(include=['mmrats', 'mmrats.*']),
    python_requires='>=3.10',
    install_requires=['torch>=2.1', 'mmengine>=0.10'],
    extras_require={
        'all': ['mmcv>=2.1.0,<2.2.0', 'mmdet==3.3.0', 'mmsegmentation==1.2.2',
                'mmpretrain==1.2.0', 'timm>=1.0'],
    },
)

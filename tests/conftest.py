import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_configure(config):
    """The known-upstream filters users get from ``import mmrats`` (mmrats/utils/known_warnings.py, each
    with its reason), added to pytest's own filters so that they hold in every phase of every test."""
    from mmrats.utils.known_warnings import KNOWN
    for category, message in KNOWN:  # ':' separates the fields of a filter; '.' matches it in the regex
        config.addinivalue_line('filterwarnings', f"ignore:{message.replace(':', '.')}:{category.__name__}")


def load_tool(path: str) -> ModuleType:
    """A command-line tool of ``tools/`` loaded by its path, to call its ``main(argv)`` in-process.

    Tools are scripts, not a package: nothing imports them by module name. Each is loaded once per session
    under its own name (``mmrats_tool_<folder>_<stem>``).
    """
    file = REPO / path
    name = 'mmrats_tool_' + '_'.join(file.relative_to(REPO / 'tools').with_suffix('').parts)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def free_port() -> int:
    """A TCP port no process listens on now (for torchrun's rendezvous in tests)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tiny_dictionary_inputs():
    """A tiny lab-size RATS (8-pixel patches), 18 part-object test images at 32 px and their register records:
    what the part-dictionary tests build on."""
    from mmrats.evaluation.dictionary import collect_records, part_objects_split
    from mmrats.models import RATSViT
    torch.manual_seed(0)
    backbone = RATSViT(arch='tiny', img_size=32, patch_size=8).eval()
    split = part_objects_split(18, 'test', img_size=32)
    return backbone, split, collect_records(backbone, split, batch_size=9)


def write_scenes(tmp_path_factory, num_train: int, num_val: int, size: int = 128, seed: int = 0) -> Path:
    """A small synthetic scene dataset (ADE20K + COCO layouts) in a fresh temporary folder."""
    from mmrats.datasets.synthetic_scenes import write_dataset
    root = tmp_path_factory.mktemp('synthetic')
    write_dataset(str(root), num_train=num_train, num_val=num_val, size=size, seed=seed)
    return root

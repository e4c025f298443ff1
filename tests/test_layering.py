"""The package's layering and the tools' shape, as in mmseg / mmpretrain:

* ``mmrats/models`` imports nothing from ``evaluation``, ``datasets`` or ``apis``; only ``apis`` imports ``apis``;
* ``tools/`` are command lines over the package: none imports another tool (``tools`` is no package), none edits
  ``sys.path``; tests reach tools by path only (``tests.conftest.load_tool``);
* one concept per file: no Python file of the package or the tools over 350 lines.
"""
import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

MAX_LINES = 350
SYS_PATH_EDIT = re.compile(r'sys\.path\.(insert|append)\(')


def imported_modules(path: Path, package: list[str] | None = None) -> list[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against its package)."""
    package = list(path.relative_to(REPO).with_suffix('').parts[:-1]) if package is None else package
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            names += [module] + [f'{module}.{a.name}' for a in node.names]
    return names


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob('*.py') if '__pycache__' not in p.parts)


def offending(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f'{p.relative_to(REPO)} imports {m}' for p in python_files(folder) for m in imported_modules(p)
            if m.startswith(forbidden)]


def test_models_import_nothing_above_them():
    assert not offending('mmrats/models', ('mmrats.evaluation', 'mmrats.datasets', 'mmrats.apis'))


@pytest.mark.parametrize('layer', ['models', 'evaluation', 'datasets', 'visualization', 'engine', 'utils'])
def test_only_the_api_imports_the_api(layer):
    assert not offending(f'mmrats/{layer}', ('mmrats.apis',))


def test_tools_are_command_lines_over_the_package():
    assert not list((REPO / 'tools').rglob('__init__.py')), 'tools/ is not a package'
    bad = offending('tools', ('tools',))
    for p in python_files('tools'):
        text = p.read_text()
        if SYS_PATH_EDIT.search(text):
            bad.append(f'{p.relative_to(REPO)} edits sys.path')
        if 'spec_from_file_location' in text or 'runpy' in text:
            bad.append(f'{p.relative_to(REPO)} loads another script')
    assert not bad


def test_tests_reach_tools_by_path_only():
    bad = offending('tests', ('tools',))
    bad += [f'{p.relative_to(REPO)} edits sys.path' for p in python_files('tests')
            if SYS_PATH_EDIT.search(p.read_text())]
    assert not bad


def test_no_file_is_a_grab_bag():
    long = [f'{p.relative_to(REPO)}: {n} lines' for folder in ('mmrats', 'tools') for p in python_files(folder)
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long


def test_the_checks_see_what_they_look_for(tmp_path):
    """The import reader resolves relative imports and names every imported module."""
    probe = tmp_path / 'probe.py'
    probe.write_text('from ..evaluation import part_metrics\nimport mmrats.apis\nfrom .utils import x\n')
    names = imported_modules(probe, ['mmrats', 'models'])
    assert {'mmrats.evaluation', 'mmrats.evaluation.part_metrics', 'mmrats.apis', 'mmrats.models.utils'} <= set(names)

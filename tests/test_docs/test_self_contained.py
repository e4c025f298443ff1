"""The repository stands on its own: no path outside it, no dead link in the docs, one test command."""
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

# paths that exist only on the machines this project was written on, never in a user's clone
OUTSIDE = re.compile(r'\.\./shared|shared/(design|papers|hooks)|/work/(main|shared)|\.library')
SKIP_DIRS = {'.git', 'work_dirs', 'data', 'outputs', '__pycache__', '.pytest_cache'}


def repo_text_files() -> list[Path]:
    files = []
    for p in REPO.rglob('*'):
        if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(REPO).parts[:-1]) \
                and p.suffix not in ('.png', '.jpg', '.pth', '.pyc', '.whl') and '.egg-info' not in str(p):
            files.append(p)
    return files


def test_nothing_refers_to_a_path_outside_the_repository():
    hits = []
    for p in repo_text_files():
        if p == Path(__file__):
            continue
        for i, line in enumerate(p.read_text(errors='ignore').splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f'{p.relative_to(REPO)}:{i}: {line.strip()[:120]}')
    assert not hits, 'references outside the repository:\n' + '\n'.join(hits)


def test_the_check_sees_a_reference(tmp_path):
    """The pattern itself catches the forms that were in the repo before."""
    shared = 'shared'  # spelled apart, so that this file itself holds no such path
    for line in (f'see ../{shared}/design/rats-spec.md', f'``{shared}/design/rats-spec.md``', f'{shared}/papers/x.txt'):
        assert OUTSIDE.search(line), line


MD_LINK = re.compile(r'\]\(([^)#\s]+)(#[^)]*)?\)')


@pytest.mark.parametrize('md', sorted(str(p.relative_to(REPO)) for p in [REPO / 'README.md',
                                                                          *(REPO / 'docs').glob('*.md')]))
def test_relative_links_resolve(md):
    path = REPO / md
    dead = [target for target, _ in MD_LINK.findall(path.read_text())
            if '://' not in target and not target.startswith('mailto:')
            and not (path.parent / target).exists()]
    assert not dead, f'{md}: dead links {dead}'


def anchors(md: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``md`` (lower case, punctuation dropped, spaces to '-')."""
    seen: dict[str, int] = {}
    out = set()
    text = re.sub(r'```.*?```', '', md.read_text(), flags=re.S)  # '# ...' in code blocks is not a heading
    for title in re.findall(r'^#{1,6} (.+?)\s*$', text, re.M):
        slug = re.sub(r'[^\w\- ]', '', title.strip().lower().replace('`', '')).replace(' ', '-')
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f'{slug}-{n}')
    return out


ANCHOR_LINK = re.compile(r'\]\(([^)#\s]*)#([^)\s]+)\)')


@pytest.mark.parametrize('md', sorted(str(p.relative_to(REPO)) for p in [REPO / 'README.md',
                                                                          *(REPO / 'docs').glob('*.md')]))
def test_section_links_name_a_heading(md):
    path = REPO / md
    dead = [f'{target}#{frag}' for target, frag in ANCHOR_LINK.findall(path.read_text())
            if '://' not in target and (target == '' or target.endswith('.md'))
            and frag not in anchors(path.parent / target if target else path)]
    assert not dead, f'{md}: links to headings that do not exist {dead}'


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / 'README.md').read_text()
    block = re.search(r'```bash\n(.*?)```', readme, re.S).group(1)  # the first command block
    commands = [line.split('#')[0].strip() for line in block.splitlines() if line.split('#')[0].strip()]
    assert commands == ['make demo', 'make test']
    ci = [line.strip() for line in (REPO / '.ci' / 'run').read_text().splitlines()
          if line.strip() and not line.lstrip().startswith('#')]
    assert ci[-1] == 'make test'
    make = subprocess.run(['make', '-n', 'test'], capture_output=True, text=True, cwd=REPO)
    assert 'setup_env.sh' in make.stdout and '-m pytest tests' in make.stdout

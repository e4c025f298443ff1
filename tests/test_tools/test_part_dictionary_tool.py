"""tools/analysis/part_dictionary.py on a tiny random RATS and a few part objects: the subcommands agree with
`all` and with the library, the learned codebook is read from a DINO checkpoint, pictures, errors."""
import json

import pytest
import torch

from mmrats.evaluation.dictionary import PartDictionary
from tests.conftest import load_tool

tool = load_tool('tools/analysis/part_dictionary.py')

ARCH = '{"embed_dims": 32, "num_heads": 2, "num_layers": 1, "num_registers": 4}'
COMMON = ['--arch', ARCH, '--img-size', '64', '--batch-size', '8']


def run(*args):
    return tool.main([str(a) for a in args])


@pytest.fixture(scope='module')
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp('dict')
    assert run('all', '--method', 'kmeans', '--num-entries', 4, '--num-images', 16, '--eval-num-images', 9,
               '--out-dir', out, '--show', '--show-num', 1, *COMMON) == 0
    return out


def test_all_writes_the_dictionary_results_and_pictures(done):
    s = json.loads((done / 'results.json').read_text())
    assert s['images'] == 9 and s['registers'] == 9 * 4 and s['split']['split'] == 'test'
    r = s['row']
    assert (r['method'], r['num_entries']) == ('kmeans', 4)
    assert r['map'] == s['retrieval']['supercategory']['map'] and r['valpw'] == s['dictionary']['pw']
    assert '| kmeans (K = 4) | 4 |' in (done / 'results.md').read_text()
    d = PartDictionary.load(str(done / 'dictionary_labelled.pth'))
    assert d.entries.shape == (4, 32) and d.names is not None and d.label_names[0] == 'background'
    assert int(d.names.count.sum()) == 16 * 4  # every register of the labelling split voted
    pics = {p.name for p in (done / 'pictures').iterdir()}
    assert 'heatmaps_0000.png' in pics


def test_subcommands_reproduce_all(done, tmp_path):
    assert run('build', '--method', 'kmeans', '--num-entries', 4, '--num-images', 16, '--out', tmp_path / 'd.pth',
               *COMMON) == 0
    assert torch.equal(PartDictionary.load(str(tmp_path / 'd.pth')).entries,
                       PartDictionary.load(str(done / 'dictionary.pth')).entries)
    assert run('label', '--dictionary', tmp_path / 'd.pth', '--num-images', 16, '--out', tmp_path / 'n.pth',
               *COMMON) == 0
    assert run('evaluate', '--dictionary', tmp_path / 'n.pth', '--num-images', 9, '--out-dir', tmp_path / 'ev',
               *COMMON) == 0
    a = json.loads((done / 'results.json').read_text())
    b = json.loads((tmp_path / 'ev' / 'results.json').read_text())
    assert a['retrieval'] == b['retrieval'] and a['dictionary'] == b['dictionary']
    assert run('table', done, tmp_path / 'ev', '--out', tmp_path / 't.md') == 0
    assert (tmp_path / 't.md').read_text().count('| kmeans (K = 4) |') == 2


def test_learned_codebook_from_a_dino_checkpoint(tmp_path, capsys):
    entries = torch.randn(6, 32)
    torch.save(dict(state_dict={'teacher.codebook.entries': entries, 'codebook.entries': entries + 1}),
               tmp_path / 'dino.pth')
    assert run('build', '--method', 'codebook', '--dino-checkpoint', tmp_path / 'dino.pth',
               '--out', tmp_path / 'c.pth', *COMMON) == 0
    assert torch.equal(PartDictionary.load(str(tmp_path / 'c.pth')).entries, entries)
    assert run('build', '--method', 'codebook', '--dino-checkpoint', tmp_path / 'dino.pth', '--codebook-source',
               'student', '--out', tmp_path / 's.pth', *COMMON) == 0
    assert torch.equal(PartDictionary.load(str(tmp_path / 's.pth')).entries, entries + 1)
    torch.save(dict(state_dict={}), tmp_path / 'plain.pth')
    assert run('build', '--method', 'codebook', '--dino-checkpoint', tmp_path / 'plain.pth',
               '--out', tmp_path / 'x.pth', *COMMON) == 2
    assert 'was not trained with model.codebook' in capsys.readouterr().err


@pytest.mark.parametrize('args, message', [
    (['build', '--method', 'codebook', '--out', '{tmp}/a.pth'], 'needs --dino-checkpoint'),
    (['build', '--method', 'kmeans', '--checkpoint', '{tmp}/none.pth', '--out', '{tmp}/a.pth'], 'does not exist'),
    (['build', '--method', 'kmeans', '--out', '{tmp}/exists.pth'], 'pass --force'),
    (['build', '--method', 'kmeans', '--num-entries', '500', '--num-images', '2', '--out', '{tmp}/a.pth'],
     'at least as many foreground registers as entries'),
    (['evaluate', '--dictionary', '{tmp}/none.pth', '--out-dir', '{tmp}/e'], 'write it with the build'),
    (['label', '--dictionary', '{tmp}/exists.pth', '--dataset-type', 'partimagenet', '--out', '{tmp}/b.pth'],
     'needs --data-root'),
    (['label', '--dictionary', '{tmp}/exists.pth', '--num-images', '2', '--out', '{tmp}/b.pth'],
     'is not a part dictionary written by this tool'),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    (tmp_path / 'exists.pth').write_bytes(b'')
    assert run(*[a.format(tmp=tmp_path) for a in args], *COMMON) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and message in err and len(err.splitlines()) == 1

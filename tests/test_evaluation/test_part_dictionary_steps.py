"""The part dictionary's steps and reports (mmrats.evaluation.dictionary.steps / report): the learned codebook
read from a DINO checkpoint, K-means and labelling with what they record, the summary, results files, table."""
import json

import pytest
import torch

from mmrats.evaluation.dictionary import (PartDictionary, backbone_meta, codebook_dictionary, codebook_entries,
                                          dictionary_scores, evaluate_dictionary, evaluation_summary,
                                          kmeans_dictionary, kmeans_entries, label_dictionary, markdown,
                                          progress_lines, results_table, row, write_results)
from tests.conftest import tiny_dictionary_inputs


@pytest.fixture(scope='module')
def tiny():
    return tiny_dictionary_inputs()


def test_codebook_entries_teacher_student_and_errors(tmp_path):
    entries = torch.randn(5, 64, dtype=torch.float64)
    torch.save(dict(state_dict={'teacher.codebook.entries': entries, 'codebook.entries': entries + 1}),
               tmp_path / 'dino.pth')
    got = codebook_entries(tmp_path / 'dino.pth')
    assert got.dtype == torch.float32 and torch.equal(got, entries.float())
    assert torch.equal(codebook_entries(tmp_path / 'dino.pth', 'student'), (entries + 1).float())
    torch.save({'teacher.codebook.entries': entries}, tmp_path / 'bare.pth')  # a state dict without 'state_dict'
    assert torch.equal(codebook_entries(tmp_path / 'bare.pth'), entries.float())
    torch.save(dict(state_dict={}), tmp_path / 'plain.pth')
    with pytest.raises(ValueError, match="plain.pth' has no 'teacher.codebook.entries': it was not trained"):
        codebook_entries(tmp_path / 'plain.pth')
    with pytest.raises(ValueError, match='does not exist'):
        codebook_entries(tmp_path / 'none.pth')
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='cannot be read'):
        codebook_entries(tmp_path / 'junk.pth')
    with pytest.raises(ValueError, match='codebook source'):
        codebook_entries(tmp_path / 'dino.pth', 'ema')


def test_codebook_dictionary_checks_the_width(tiny, tmp_path):
    backbone = tiny[0]
    torch.save(dict(state_dict={'teacher.codebook.entries': torch.randn(3, 64)}), tmp_path / 'ok.pth')
    d = codebook_dictionary(tmp_path / 'ok.pth', backbone, meta=backbone_meta(backbone, 'b.pth', 'tiny'))
    assert (d.method, d.num_entries) == ('codebook', 3)
    assert d.meta['source'] == 'teacher' and d.meta['checkpoint'] == 'b.pth'
    assert d.meta['backbone'] == dict(arch='tiny', mode='rats', num_registers=8, embed_dims=64, patch_size=8)
    torch.save(dict(state_dict={'teacher.codebook.entries': torch.randn(3, 32)}), tmp_path / 'narrow.pth')
    with pytest.raises(ValueError, match='32-dim entries but the backbone is 64 wide'):
        codebook_dictionary(tmp_path / 'narrow.pth', backbone)


def test_kmeans_and_label_dictionary_record_their_split(tiny):
    backbone, split, rec = tiny
    fg = rec.features[rec.fg_peak]
    d = kmeans_dictionary(rec, split, 3, seed=1, meta=dict(checkpoint=None))
    assert torch.equal(d.entries, kmeans_entries(fg, 3, 1))
    assert d.meta == dict(checkpoint=None, split=split.spec, foreground_registers=len(fg), kmeans_seed=1)
    with pytest.raises(ValueError, match='at least as many foreground registers as entries'):
        kmeans_dictionary(rec, split, len(fg) + 1)
    named = label_dictionary(d, split, rec)
    assert torch.equal(named.names.label, d.label(rec, split.label_names).names.label)
    assert named.meta['label_split'] == split.spec and 'label_split' not in d.meta  # the input is not changed
    assert named.meta['label_scores'] == dictionary_scores(named.names, named.assign(rec), rec.part)


def test_summary_results_files_and_table(tiny, tmp_path):
    backbone, split, rec = tiny
    named = label_dictionary(kmeans_dictionary(rec, split, 3), split, rec)
    s = evaluation_summary(named, split, rec, dict(extract_s=1.5), settings=dict(device='cpu'))
    res = evaluate_dictionary(named, rec, split)
    assert s['retrieval'] == res['retrieval'] and s['dictionary'] == res['dictionary']
    assert s['row']['name'] == 'kmeans (K = 3)' and s['row'] == row('kmeans (K = 3)', named, res, s['timing'])
    assert s['row']['label_pw'] == named.meta['label_scores']['pw'] and s['row']['valpw'] == res['dictionary']['pw']
    assert (s['row']['map'], s['row']['r1_category']) == (res['retrieval']['supercategory']['map'],
                                                           res['retrieval']['category']['r1'])
    assert list(s['timing']) == ['extract_s', 'evaluate_s'] and s['settings'] == dict(device='cpu')
    assert s['split'] == dict(name='part-objects-test', **split.spec) and s['built']['method'] == 'kmeans'
    md = write_results(s, tmp_path / 'a')
    assert md == markdown(s) == (tmp_path / 'a' / 'results.md').read_text()
    assert md.startswith('## Part dictionary: kmeans (K = 3)\n') and 'Retrieval by category' in md
    assert json.loads((tmp_path / 'a' / 'results.json').read_text())['row']['map'] == s['row']['map']
    write_results(evaluation_summary(named, split, rec, name='other'), tmp_path / 'b')
    table = results_table([tmp_path / 'a', tmp_path / 'b']).splitlines()
    assert len(table) == 4 and table[2].startswith('| kmeans (K = 3) | 3 |') and table[3].startswith('| other |')
    assert table[2].endswith(' | 18 |')
    with pytest.raises(FileNotFoundError, match='run evaluate or all with --out-dir'):
        results_table([tmp_path / 'a', tmp_path / 'none'])


def test_progress_lines_print_the_end(capsys):
    report = progress_lines('extract', every_s=3600)
    report(1, 3)  # the first call prints (nothing printed yet), the next ones only at the end
    report(2, 3)
    report(3, 3)
    assert capsys.readouterr().out.splitlines() == ['extract: 1/3 images', 'extract: 3/3 images']


def test_part_dictionary_save_keeps_the_steps_meta(tiny, tmp_path):
    backbone, split, rec = tiny
    named = label_dictionary(kmeans_dictionary(rec, split, 3), split, rec)
    named.save(str(tmp_path / 'd.pth'))
    assert PartDictionary.load(str(tmp_path / 'd.pth')).meta == named.meta

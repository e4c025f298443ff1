"""The pictures of a labelled part dictionary on a split (mmrats.visualization.part_dictionary_show):
which entries and images Fig. 11 shows, and the files written."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmrats.evaluation.dictionary import EntryLabels, PartDictionary, label_entries
from mmrats.evaluation.part_segmentation import register_attention_maps
from mmrats.utils.images import normalize
from mmrats.visualization import entry_overlay_rows, save_dictionary_pictures
from tests.conftest import tiny_dictionary_inputs


@pytest.fixture(scope='module')
def tiny():
    return tiny_dictionary_inputs()


def one_entry(rec, split, part: int) -> PartDictionary:
    """Every register in one entry, named ``part``."""
    votes = torch.zeros(1, split.num_labels, dtype=torch.long)
    votes[0, part] = len(rec.part)
    names = EntryLabels(label=torch.tensor([part]), purity=torch.tensor([1.0], dtype=torch.float64),
                        count=torch.tensor([len(rec.part)]), votes=votes)
    return PartDictionary(rec.features.mean(0, keepdim=True), 'kmeans', list(split.label_names), names)


def test_entry_overlays_show_the_entry_on_its_part_in_three_categories(tiny):
    backbone, split, rec = tiny
    parts, counts = rec.part[rec.part > 0].unique(return_counts=True)
    part = int(parts[counts.argmax()])  # the part most registers attend to
    rows = entry_overlay_rows(backbone, one_entry(rec, split, part), split, rec)
    assert len(rows) == 1
    r = rows[0]
    assert r['name'] == f'entry 0: {split.label_names[part]} (purity 100%)'
    chosen = [int(c.split('#')[1]) for c in r['captions']]
    assert len(chosen) == 3 and len({int(split.category[i]) for i in chosen}) == 3
    assert len({int(split.supercategory[i]) for i in chosen}) == 1
    images, labels = split.load(chosen)
    attn = register_attention_maps(backbone, normalize(images))  # (3, R, h, w)
    for j, i in enumerate(chosen):
        assert ((rec.image == i) & (rec.part == part)).any()  # a register of the image attends to the part
        np.testing.assert_array_equal(r['images'][j], images[j])
        np.testing.assert_array_equal(r['masks'][j], labels[j] == part)
        np.testing.assert_allclose(r['maps'][j], attn[j].amax(0).numpy(), rtol=1e-5, atol=1e-6)
    assert entry_overlay_rows(backbone, one_entry(rec, split, 0), split, rec) == []  # background: not shown


def test_save_dictionary_pictures_writes_the_files(tiny, tmp_path):
    backbone, split, rec = tiny
    d = PartDictionary(rec.features[::9].clone(), 'kmeans', list(split.label_names))
    with pytest.raises(ValueError, match='not labelled yet'):
        save_dictionary_pictures(backbone, d, split, rec, tmp_path)
    from mmrats.models.utils.entry_assignment import nearest_entry
    d.names = label_entries(nearest_entry(rec.features, d.entries), rec.part, d.num_entries, split.num_labels)
    written = save_dictionary_pictures(backbone, d, split, rec, tmp_path / 'pics', show_num=2, title='T')
    assert [w for w in written if w.startswith('heatmaps')] == ['heatmaps_0000.png', 'heatmaps_0001.png']
    assert sorted(p.name for p in (tmp_path / 'pics').iterdir()) == sorted(written)
    for name in written:
        assert Image.open(tmp_path / 'pics' / name).size[0] > 32

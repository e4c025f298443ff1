"""The steps of a part dictionary: build (K-means or a learned codebook), label (paper §4.4, App. C).

``tools/analysis/part_dictionary.py`` is these steps on the command line:

* :func:`kmeans_dictionary`: K-means of the registers whose attention peaks
  inside a foreground part;
* :func:`codebook_dictionary`: the entries learned with the backbone
  (:func:`codebook_entries` reads them from a ``mmrats.DINO`` checkpoint);
* :func:`label_dictionary`: each entry named on a part-labelled split, with
  that split's own ``Pw`` / ``util%``.

:func:`~mmrats.evaluation.dictionary.report.evaluation_summary` evaluates the result. Every function
raises ``ValueError`` with a message that names the input for what it cannot use.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from .kmeans import default_num_entries, kmeans_entries
from .labelling import dictionary_scores
from .pipeline import PartDictionary
from .records import RegisterRecords
from .sources import LabelledSplit

# The learned codebook in a mmrats.DINO checkpoint: the EMA copy that goes with the teacher, or the student's.
CODEBOOK_KEYS = dict(teacher='teacher.codebook.entries', student='codebook.entries')
CODEBOOK_CONFIG = 'configs/lab/dino_rats-lab-codebook_1xb32-2e_part-objects-64.py'


def codebook_entries(path: str | os.PathLike, source: str = 'teacher') -> Tensor:
    """The ``(K, C)`` float32 entries of the codebook a ``mmrats.DINO`` checkpoint was trained with.

    Args:
        path: a ``tools/train.py`` checkpoint of a DINO config with ``model.codebook``.
        source: ``'teacher'`` (``teacher.codebook.entries``, the EMA copy that goes with the extracted
            teacher) or ``'student'`` (``codebook.entries``).

    Raises:
        ValueError: the file is missing or unreadable, or it holds no codebook.
    """
    if source not in CODEBOOK_KEYS:
        raise ValueError(f'codebook source {source!r}: choose one of {sorted(CODEBOOK_KEYS)}')
    if not Path(path).is_file():
        raise ValueError(f'DINO checkpoint {str(path)!r} does not exist')
    try:
        sd = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        first = (str(e).strip().splitlines() or [''])[0][:200]
        raise ValueError(f'DINO checkpoint {str(path)!r} cannot be read ({type(e).__name__}: {first})') from None
    sd = sd.get('state_dict', sd) if isinstance(sd, dict) else {}
    key = CODEBOOK_KEYS[source]
    if key not in sd:
        raise ValueError(f'DINO checkpoint {str(path)!r} has no {key!r}: it was not trained with model.codebook '
                         f'(e.g. {CODEBOOK_CONFIG})')
    return sd[key].float()


def backbone_meta(backbone: nn.Module, checkpoint: str | None = None, arch=None) -> dict:
    """What a dictionary file records of its backbone: the checkpoint (None: random init) and its shape."""
    return dict(checkpoint=checkpoint,
                backbone=dict(arch=str(arch), mode=backbone.mode, num_registers=backbone.num_registers,
                              embed_dims=backbone.embed_dims, patch_size=backbone.patch_size))


def codebook_dictionary(dino_checkpoint: str | os.PathLike, backbone: nn.Module, source: str = 'teacher',
                        meta: dict | None = None) -> PartDictionary:
    """The learned codebook of ``dino_checkpoint`` as a dictionary for ``backbone`` (its width checked)."""
    entries = codebook_entries(dino_checkpoint, source)
    if entries.shape[1] != backbone.embed_dims:
        raise ValueError(f'the codebook has {entries.shape[1]}-dim entries but the backbone is '
                         f'{backbone.embed_dims} wide: pass the teacher backbone of the same DINO run')
    return PartDictionary(entries, 'codebook', meta=dict(meta or {}, dino_checkpoint=dino_checkpoint, source=source))


def foreground_registers(records: RegisterRecords) -> Tensor:
    """The register features whose attention peaks inside a foreground part: what K-means clusters."""
    return records.features[records.fg_peak]


def kmeans_dictionary(records: RegisterRecords, split: LabelledSplit, num_entries: int | None = None,
                      seed: int = 0, max_iter: int = 100, meta: dict | None = None) -> PartDictionary:
    """K-means of the foreground registers of ``split`` into ``num_entries`` centroids.

    Args:
        records: the register records of ``split`` (:func:`~mmrats.evaluation.dictionary.collect_records`).
        split: the split they come from (its spec goes into the meta).
        num_entries: K; default ``10 x`` the number of labels (:func:`default_num_entries`).
        seed, max_iter: of :func:`kmeans_entries`.
        meta: recorded with the dictionary (e.g. :func:`backbone_meta`).

    Raises:
        ValueError: fewer foreground registers than entries.
    """
    k = num_entries or default_num_entries(split.num_labels)
    fg = foreground_registers(records)
    entries = kmeans_entries(fg, k, seed, max_iter)
    return PartDictionary(entries, 'kmeans', meta=dict(meta or {}, split=split.spec,
                                                       foreground_registers=int(len(fg)), kmeans_seed=seed))


def label_dictionary(dictionary: PartDictionary, split: LabelledSplit, records: RegisterRecords) -> PartDictionary:
    """Steps (i)-(iii) on a labelled split: each entry named by majority vote (its purity the majority
    share; entries with fewer than 3 registers dropped); ``meta['label_split']`` is the split and
    ``meta['label_scores']`` its own ``Pw`` / ``util%``."""
    named = dictionary.label(records, split.label_names)
    named.meta['label_split'] = split.spec
    named.meta['label_scores'] = dictionary_scores(named.names, named.assign(records), records.part)
    return named

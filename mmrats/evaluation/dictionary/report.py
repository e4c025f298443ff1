"""Reports of a part dictionary: the evaluation summary, its ``results.json`` / ``results.md``, Fig. 6-left tables.

* :func:`evaluation_summary`: :func:`~mmrats.evaluation.dictionary.evaluate_dictionary`
  with what was evaluated, the timings and one table :func:`row`;
* :func:`markdown` / :func:`write_results`: the summary as ``results.md``
  (and ``results.json``);
* :func:`results_table`: one markdown table from the ``results.json`` of
  several runs (the paper's Fig. 6 left).
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from .pipeline import PartDictionary, evaluate_dictionary
from .records import RegisterRecords
from .sources import LabelledSplit

RESULTS_JSON, RESULTS_MD = 'results.json', 'results.md'


def default_name(dictionary: PartDictionary) -> str:
    """The row name of a dictionary without ``--name``: ``'kmeans (K = 40)'``."""
    return f'{dictionary.method} (K = {dictionary.num_entries})'


def row(name: str, d: PartDictionary, res: dict, timing: dict) -> dict:
    """One table row of :func:`evaluate_dictionary`'s ``res``: retrieval by super-category (the paper's level),
    by category, ``valPw`` / ``util%`` and the labelling split's own ``Pw`` / ``util%``."""
    r = res['retrieval']['supercategory']
    return dict(name=name, method=d.method, num_entries=d.num_entries, map=r['map'], r1=r['r1'],
                valpw=res['dictionary']['pw'], util=res['dictionary']['util'],
                map_category=res['retrieval']['category']['map'], r1_category=res['retrieval']['category']['r1'],
                label_pw=d.meta.get('label_scores', {}).get('pw'),
                label_util=d.meta.get('label_scores', {}).get('util'),
                timing=timing)


def evaluation_summary(d: PartDictionary, split: LabelledSplit, records: RegisterRecords, timing: dict | None = None,
                       name: str | None = None, settings: dict | None = None) -> dict:
    """:func:`evaluate_dictionary` of a labelled dictionary on ``split``, with the split, the dictionary's
    method and meta, ``row`` (named ``name``, default :func:`default_name`), the timings (``evaluate_s``
    added) and ``settings``.

    Raises:
        ValueError: the dictionary is not labelled, or was labelled with other labels than ``split``'s.
    """
    t0 = time.perf_counter()
    res = evaluate_dictionary(d, records, split)
    timing = dict(timing or {}, evaluate_s=time.perf_counter() - t0)
    return dict(res, split=dict(name=split.name, **split.spec), built=dict(method=d.method, meta=d.meta),
                row=row(name or default_name(d), d, res, timing), timing=timing, settings=dict(settings or {}))


def markdown(summary: dict) -> str:
    """The ``results.md`` of an :func:`evaluation_summary`: its row, then retrieval by level and category."""
    r = summary['row']
    lines = [f"## Part dictionary: {r['name']}", '',
             f"{summary['built']['method']}, K = {r['num_entries']}; evaluated on {summary['split']['name']} "
             f"({summary['images']} images, {summary['registers']} registers); retrieval: leave-one-out cosine over "
             'TF-IDF bag-of-entries vectors.', '',
             '| Codebook | K | mAP | R@1 | valPw | util% |', '|---|---|---|---|---|---|',
             f"| {r['name']} | {r['num_entries']} | {r['map']:.1f} | {r['r1']:.1f} | {r['valpw']:.1f} | "
             f"{r['util']:.1f} |", '']
    for level, res in summary['retrieval'].items():
        lines += [f'Retrieval by {level}: mAP {res["map"]:.1f}, R@1 {res["r1"]:.1f} ({res["queries"]} queries)', '',
                  '| ' + level + ' | queries | mAP | R@1 |', '|---|---|---|---|']
        lines += [f"| {c} | {v['queries']} | {v['map']:.1f} | {v['r1']:.1f} |" for c, v in res['by_category'].items()]
        lines.append('')
    t = summary['timing']
    lines.append('Time (s): ' + ', '.join(f'{k[:-2]} {v:.1f}' for k, v in t.items()))
    return '\n'.join(lines) + '\n'


def write_results(summary: dict, out_dir: str | os.PathLike) -> str:
    """``OUT_DIR/results.json`` and ``OUT_DIR/results.md`` of a summary; returns the markdown."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS_JSON).write_text(json.dumps(summary, indent=2))
    md = markdown(summary)
    (out / RESULTS_MD).write_text(md)
    return md


def results_table(dirs: Sequence[str | os.PathLike]) -> str:
    """One markdown table (Fig. 6 left) of the rows in ``DIR/results.json`` of each of ``dirs``.

    Raises:
        FileNotFoundError: a folder without ``results.json``.
    """
    rows = []
    for d in dirs:
        path = Path(d) / RESULTS_JSON
        if not path.is_file():
            raise FileNotFoundError(f'{str(path)!r} does not exist: run evaluate or all with --out-dir {d}')
        s = json.loads(path.read_text())
        rows.append(s['row'] | dict(split=s['split']['name'], images=s['images']))
    lines = ['| Codebook | K | mAP | R@1 | valPw | util% | mAP (category) | R@1 (category) | images |',
             '|---|---|---|---|---|---|---|---|---|']
    lines += [f"| {r['name']} | {r['num_entries']} | {r['map']:.1f} | {r['r1']:.1f} | {r['valpw']:.1f} | "
              f"{r['util']:.1f} | {r['map_category']:.1f} | {r['r1_category']:.1f} | {r['images']} |" for r in rows]
    return '\n'.join(lines) + '\n'

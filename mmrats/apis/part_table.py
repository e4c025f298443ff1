"""Table 1 end to end: checkpoints x the five part benchmarks, resumable per benchmark (paper §4.2, App. E).

:func:`part_table` opens every benchmark first (the pre-flight of
:func:`mmrats.datasets.part_benchmarks.open_benchmark`; one that is not
prepared is skipped with one line), loads every checkpoint (a bad one stops
before anything runs), then evaluates each checkpoint on each prepared
benchmark with :func:`~mmrats.apis.evaluate_parts`, exactly as
``tools/analysis/part_segmentation.py`` does for one dataset. Each result is
written at once to ``<out_dir>/<model>/<benchmark>.json`` with the settings
it was made with; a rerun with the same settings reads it instead of
evaluating again, and one with other settings stops and names the file.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from mmrats.datasets.part_benchmarks import BENCHMARKS, PartBenchmark, benchmark_root, open_benchmark, sam_settings
from mmrats.datasets.part_datasets import PartDatasetError
from mmrats.evaluation.part_segmentation import PartSegmenter
from mmrats.evaluation.part_table import COLUMNS, PAPER_TABLE1, table_markdown, table_row

from .part_evaluation import evaluate_parts
from .weights import BackboneLoadError, load_backbone, read_backbone_weights

TABLE1_IMG_SIZE = 512  # [choice] the number is lost from App. E's text; Table 3 times the models at 512 x 512
TABLE1_TOP_K = 80  # Table 1's RATS-S/96 row equals Table 5's K = 80 row (M2O and the mean ARI 21.7)


class PartTableError(ValueError):
    """A checkpoint that cannot be loaded or a stored result made with other settings: one line with the fix."""


def _fingerprint(checkpoint: str, method: str, reader, settings: dict) -> dict:
    st = Path(checkpoint).stat()
    return dict(checkpoint=str(Path(checkpoint).resolve()), checkpoint_bytes=st.st_size,
                checkpoint_mtime_ns=st.st_mtime_ns, method=method, root=str(Path(reader.root).resolve()),
                images=len(reader), **settings)


def _slug(name: str, taken: set[str]) -> str:
    slug = re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('_') or 'model'
    base, i = slug, 1
    while slug in taken:
        i += 1
        slug = f'{base}_{i}'
    taken.add(slug)
    return slug


def _load(checkpoint: str, img_size: int, prefix: str | None, method: str | None, device: str):
    try:
        weights = read_backbone_weights(checkpoint, prefix=prefix)
        model = load_backbone(weights, img_size=img_size)
        seg = PartSegmenter(model, method)  # checks the method against the backbone
    except BackboneLoadError as e:
        raise PartTableError(f"cannot load checkpoint {checkpoint!r}: {' '.join(str(e).split())}") from None
    except (ValueError, TypeError) as e:
        raise PartTableError(f'checkpoint {checkpoint!r}: {e}') from None
    arch = weights.config.get('arch', 'custom')
    return model.eval().to(device), seg.method, arch if isinstance(arch, str) else 'custom'


def open_benchmarks(keys: Sequence[str] | None = None, data_dir: str | Path = 'data', roots: dict | None = None,
                    full: bool = True, log: Callable[[str], None] = print) -> tuple[dict, dict]:
    """The pre-flight of the table: ``({key: reader}, {key: why skipped})``, one ``log`` line per skip."""
    readers, skipped = {}, {}
    for key in keys or BENCHMARKS:
        bench = BENCHMARKS[key]
        try:
            readers[key] = open_benchmark(bench, benchmark_root(bench, data_dir, roots), full)
        except PartDatasetError as e:
            skipped[key] = str(e)
            log(f'skip {e}')
    return readers, skipped


def part_table(checkpoints: Sequence[str], out_dir: str | Path, benchmarks: Sequence[str] | None = None,
               data_dir: str | Path = 'data', roots: dict | None = None, names: Sequence[str] | None = None,
               img_size: int = TABLE1_IMG_SIZE, top_k: int = TABLE1_TOP_K, sigma: float = 1.0,
               method: str | None = None, batch_size: int = 8, workers: int = 0, device: str | None = None,
               full: bool = True, max_images: int | None = None, prefix: str | None = None,
               progress: Callable = iter, log: Callable[[str], None] = print) -> dict:
    """Evaluate checkpoints on every prepared benchmark; write ``table.json`` and ``table.md`` in ``out_dir``.

    Args:
        checkpoints: weights files (:func:`~mmrats.apis.load_backbone`: RATS, DINO ViT, ViT with registers,
            converted DINO / timm weights).
        out_dir: where the per-benchmark results and the table go.
        benchmarks: keys of :data:`~mmrats.datasets.part_benchmarks.BENCHMARKS` (default: all five).
        data_dir, roots: where the benchmarks are (``roots[key]`` over ``data_dir/<folder>``).
        names: one row name per checkpoint (default: the backbone and the file's name).
        img_size, top_k, sigma, method: of the segmentation (default: Table 1's).
        batch_size, workers, device: of the evaluation (``device`` default: ``cuda`` when present).
        full: require each benchmark's whole split (False: evaluate any number of images, marked).
        max_images, prefix: the first images only (marks the rows partial); key prefix of the weights.
        progress, log: a wrapper of each data loader (a progress bar) and where the lines go.

    Returns:
        ``dict(settings, rows, skipped, sam_settings, paper)``, as written to ``table.json``.

    Raises:
        PartTableError: a checkpoint cannot be loaded, a stored result was made with other settings, or the
            names do not match the checkpoints.
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if names and len(names) != len(checkpoints):
        raise PartTableError(f'{len(names)} names for {len(checkpoints)} checkpoints; give one --name per checkpoint')
    readers, skipped = open_benchmarks(benchmarks, data_dir, roots, full, log)
    models = [_load(c, img_size, prefix, method, device) for c in checkpoints]  # fail before anything runs
    settings = dict(img_size=img_size, top_k=top_k, sigma=sigma, max_images=max_images, prefix=prefix)
    out, rows, taken, said = Path(out_dir), [], set(), set()

    def log_once(line: str) -> None:  # evaluate_parts names the model once per benchmark: once is enough
        if line not in said:
            said.add(line)
            log(line)
    for i, (checkpoint, (model, meth, arch)) in enumerate(zip(checkpoints, models)):
        name = names[i] if names else None
        print_name = name or Path(checkpoint).name
        slug = _slug(name or Path(checkpoint).stem, taken)
        scores, desc = {}, None
        for key, reader in readers.items():
            column = BENCHMARKS[key].column
            fp = _fingerprint(checkpoint, meth, reader, settings)
            path = out / slug / f'{key}.json'
            if path.is_file():
                stored = json.loads(path.read_text())
                if stored.get('fingerprint') != fp:
                    diff = sorted(k for k in fp if stored.get('fingerprint', {}).get(k) != fp[k])
                    raise PartTableError(f'{path} holds a result made with other settings (differs in: '
                                         f"{', '.join(diff)}); pass another --out-dir, or delete it to redo it")
                log(f'{print_name} / {column}: done before, read from {path}')
                summary = stored['summary']
            else:
                summary = evaluate_parts(model, [reader], img_size, top_k, meth, sigma, batch_size, workers,
                                         max_images, name, arch, checkpoint, progress=progress, log=log_once)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix('.json.part')
                tmp.write_text(json.dumps(dict(fingerprint=fp, summary=summary), indent=2))
                tmp.replace(path)  # a killed run leaves no half-written result
            desc = summary['model']
            scores[column] = summary['datasets'][column]
        if desc is not None:
            row = table_row(desc, scores)
            row['complete'] = row['complete'] and full and max_images is None
            rows.append(row)
    sam = {k: sam_settings(r.root, BENCHMARKS[k].split) for k, r in readers.items() if BENCHMARKS[k].sam}
    result = dict(settings=dict(settings, method=method, full_splits=full, device=device,
                                benchmarks={k: _bench_info(BENCHMARKS[k], r) for k, r in readers.items()}),
                  rows=rows, skipped=skipped, sam_settings=sam, paper=[list(r) for r in PAPER_TABLE1],
                  columns=list(COLUMNS))
    out.mkdir(parents=True, exist_ok=True)
    (out / 'table.json').write_text(json.dumps(result, indent=2))
    (out / 'table.md').write_text(table_markdown(rows))
    return result


def _bench_info(bench: PartBenchmark, reader) -> dict:
    return dict(column=bench.column, root=str(reader.root), split=bench.split, images=len(reader),
                paper_images=bench.num_images, ground_truth='SAM 2.1 masks' if bench.sam else 'native')

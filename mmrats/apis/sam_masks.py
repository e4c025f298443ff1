"""SAM 2.1 proxy masks for the part benchmarks (paper §4.1, Appendix E), with the sam2 package's own generator.

The paper runs "the official sam2.1-hiera-large automatic mask generator with
a point prompt grid" over COCO 2017 val and ImageNet val. :func:`generate_sam_masks`
does that over an image folder with ``sam2.automatic_mask_generator`` (no
generator of our own) and writes one label map per image
(:mod:`mmrats.datasets.sam_label_maps`: the overlap rule, the PNG format),
plus ``sam_settings.json`` beside them. The generator's settings are the
package's defaults **[choice]**: the paper names the model, not its
thresholds or grid size. A run continues where a killed one stopped (a finished
image is never redone), shards split the images across processes or GPUs, and a
run whose settings differ from the folder's stops instead of mixing masks.

``sam2`` is optional: only this module imports it, when called
(``bash tools/setup/install_sam2.sh <python>`` installs it without its CUDA
extension).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mmrats.datasets.part_benchmarks import SAM_SETTINGS
from mmrats.datasets.sam_label_maps import OVERLAP_RULE, list_images, mask_path, masks_to_label_map, \
    pending_images, write_label_png

CHECKPOINT_URL = 'https://dl.fbaipublicfiles.com/segment_anything_2/092824/'
MODEL_SIZES = {  # size: (the package's config, the official checkpoint's name)
    'large': ('configs/sam2.1/sam2.1_hiera_l.yaml', 'sam2.1_hiera_large.pt'),  # the paper's
    'base_plus': ('configs/sam2.1/sam2.1_hiera_b+.yaml', 'sam2.1_hiera_base_plus.pt'),
    'small': ('configs/sam2.1/sam2.1_hiera_s.yaml', 'sam2.1_hiera_small.pt'),
    'tiny': ('configs/sam2.1/sam2.1_hiera_t.yaml', 'sam2.1_hiera_tiny.pt'),
}
# SAM2AutomaticMaskGenerator's own defaults (sam2 1.1.0) [choice]; points_per_batch changes speed, not masks.
GENERATOR_DEFAULTS = dict(points_per_side=32, pred_iou_thresh=0.8, stability_score_thresh=0.95,
                          stability_score_offset=1.0, mask_threshold=0.0, box_nms_thresh=0.7, crop_n_layers=0,
                          crop_nms_thresh=0.7, crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=1,
                          min_mask_region_area=0, use_m2m=False, multimask_output=True)
SPEED_ONLY = ('points_per_batch',)


class SamMaskError(ValueError):
    """Input the mask generation cannot use (a folder, a checkpoint, sam2 missing, other settings): one line."""


def _sam2_version() -> str:
    try:
        import sam2  # noqa: F401
    except ImportError:
        raise SamMaskError('the sam2 package is not installed; install it (without its CUDA extension) with '
                           'bash tools/setup/install_sam2.sh "$(bash tools/setup/setup_env.sh)"') from None
    from importlib.metadata import version
    return version('sam2')


def _has_cuda_extension() -> bool:
    from importlib.util import find_spec
    try:
        return find_spec('sam2._C') is not None
    except ImportError:
        return False


def mask_settings(model_size: str = 'large', checkpoint: str | None = None, random_init: bool = False,
                  **generator) -> dict:
    """What makes the masks what they are, as written to ``sam_settings.json``.

    Raises:
        SamMaskError: unknown model size or generator setting, a missing checkpoint.
    """
    if model_size not in MODEL_SIZES:
        raise SamMaskError(f'unknown SAM 2.1 model size {model_size!r}; choose one of {", ".join(MODEL_SIZES)}')
    unknown = sorted(set(generator) - set(GENERATOR_DEFAULTS) - set(SPEED_ONLY))
    if unknown:
        raise SamMaskError(f'unknown generator settings {unknown}; known: {sorted(GENERATOR_DEFAULTS)}')
    config, official = MODEL_SIZES[model_size]
    if random_init:
        weights = 'random init (tests only: these masks mean nothing)'
    elif not checkpoint or not Path(checkpoint).is_file():
        raise SamMaskError(f'SAM 2.1 checkpoint {checkpoint!r} does not exist; download {official} from '
                           f'{CHECKPOINT_URL}{official} and pass it with --checkpoint')
    else:
        weights = dict(file=Path(checkpoint).name, bytes=Path(checkpoint).stat().st_size)
    gen = {k: v for k, v in {**GENERATOR_DEFAULTS, **generator}.items() if k not in SPEED_ONLY}
    if gen['min_mask_region_area'] > 0 and not _has_cuda_extension():
        raise SamMaskError('--min-mask-region-area > 0 fills holes with sam2\'s CUDA extension (sam2._C), which '
                           'this install does not build; sam2 would skip that step with a warning and the masks '
                           'would depend on the machine: keep 0 (the default)')
    return dict(model=f'sam2.1_hiera_{model_size}', config=config, official_checkpoint=official, weights=weights,
                generator=gen, overlap_rule=OVERLAP_RULE, format='16-bit single-channel PNG, 0 = no mask',
                sam2=_sam2_version())


def build_generator(settings: dict, checkpoint: str | None, device: str, points_per_batch: int = 64):
    """``SAM2AutomaticMaskGenerator`` of ``settings`` (random weights if ``settings['weights']`` says so)."""
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.build_sam import build_sam2
    ckpt = None if isinstance(settings['weights'], str) else checkpoint
    try:
        model = build_sam2(settings['config'], ckpt_path=ckpt, device=device, mode='eval')
    except (RuntimeError, KeyError) as e:
        raise SamMaskError(f"cannot load {checkpoint!r} into {settings['model']} (is it "
                           f"{settings['official_checkpoint']}?): {' '.join(str(e).split())[:300]}") from None
    return SAM2AutomaticMaskGenerator(model, points_per_batch=points_per_batch, output_mode='binary_mask',
                                      **settings['generator'])


def _claim_settings(out_dir: Path, settings: dict) -> None:
    """Write ``sam_settings.json``, or check that the folder's says the same; never mix two settings."""
    path = out_dir / SAM_SETTINGS
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise SamMaskError(f'{path} is not valid JSON; it is not ours to overwrite: move it away') from None
        if stored != settings:
            diff = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
            raise SamMaskError(f'{out_dir} holds masks made with other settings (differs in: {", ".join(diff)}); '
                               'pass another --out, or the same settings to continue them')
        return
    if out_dir.is_dir() and next(out_dir.rglob('*.png'), None) is not None:
        raise SamMaskError(f'{out_dir} holds PNGs but no {SAM_SETTINGS}: they are not masks of this tool, and '
                           'would be taken as done; pass another --out')
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f'.{SAM_SETTINGS}.{os.getpid()}.tmp'
    tmp.write_text(json.dumps(settings, indent=2))
    os.replace(tmp, path)


def generate_sam_masks(image_dir: str | Path, out_dir: str | Path, checkpoint: str | None = None,
                       model_size: str = 'large', device: str | None = None, shard: int = 0, num_shards: int = 1,
                       random_init: bool = False, points_per_batch: int = 64, progress: Callable = iter,
                       log: Callable[[str], None] = print, **generator) -> dict:
    """SAM 2.1 label maps of every image of ``image_dir`` (this shard's) that has none yet, in ``out_dir``.

    Args:
        image_dir: the images (sub-folders mirrored in ``out_dir``).
        out_dir: where the label maps and ``sam_settings.json`` go.
        checkpoint: the official SAM 2.1 checkpoint of ``model_size`` (:data:`MODEL_SIZES`).
        model_size: ``large`` (the paper's), ``base_plus``, ``small`` or ``tiny``.
        device: ``cuda`` when present by default (``cuda:1`` etc. for a shard per GPU).
        shard, num_shards: this process does every ``num_shards``-th image from ``shard``.
        random_init: no checkpoint, random weights (the tests').
        points_per_batch: point prompts per forward (speed and memory only).
        progress, log: wrap the images (a progress bar); where the lines go.
        **generator: ``SAM2AutomaticMaskGenerator`` settings over :data:`GENERATOR_DEFAULTS`.

    Returns:
        ``dict(images, done_before, written, out_dir, settings)`` for this shard.

    Raises:
        SamMaskError: no images, a bad shard, checkpoint, setting, or a folder made with other settings.
    """
    image_dir, out_dir = Path(image_dir), Path(out_dir)
    if not image_dir.is_dir() or not list_images(image_dir):
        raise SamMaskError(f'image folder {str(image_dir)!r} does not exist or holds no images')
    if not 0 <= shard < num_shards:
        raise SamMaskError(f'--shard {shard} is not in 0..{num_shards - 1} (--num-shards {num_shards})')
    if out_dir.resolve().is_relative_to(image_dir.resolve()):
        raise SamMaskError(f'--out {str(out_dir)!r} is inside the image folder {str(image_dir)!r}: its masks would '
                           'be read as images; pass an --out outside it')
    settings = mask_settings(model_size, checkpoint, random_init, **generator)
    _claim_settings(out_dir, settings)
    pending, done = pending_images(image_dir, out_dir, shard, num_shards)
    log(f'{settings["model"]}: shard {shard}/{num_shards}: {done} images done before, {len(pending)} to do '
        f'-> {out_dir}')
    if pending:
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        gen = build_generator(settings, checkpoint, device, points_per_batch)
        for image in progress(pending):
            rgb = np.array(Image.open(image).convert('RGB'))  # writable: sam2's transform warns otherwise
            with torch.inference_mode():
                masks = [m['segmentation'] for m in gen.generate(rgb)]
            write_label_png(masks_to_label_map(masks, rgb.shape[:2]), mask_path(image, image_dir, out_dir))
    return dict(images=done + len(pending), done_before=done, written=len(pending), out_dir=str(out_dir),
                settings=settings)

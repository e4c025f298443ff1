"""The embedded photographs for the DINO demo: the sample photos scikit-image and
scikit-learn ship inside their packages (no download).

:func:`write_sample_photos` exports them as JPEG files into one folder, which
mmpretrain's ``CustomDataset(with_label=False)`` reads. Idempotent: a complete
folder written before is kept; a non-empty folder that is not ours is refused.
"""
from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np
from PIL import Image

# scikit-image (skimage.data, bundled files) and scikit-learn (sklearn.datasets)
SKIMAGE_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'hubble_deep_field', 'immunohistochemistry',
                  'retina', 'motorcycle_left', 'motorcycle_right', 'camera', 'coins', 'moon', 'grass',
                  'gravel', 'brick')
SKLEARN_PHOTOS = ('china.jpg', 'flower.jpg')
MANIFEST = 'photos.json'


def _load(name: str) -> np.ndarray:
    """One photo as an ``(H, W, 3)`` uint8 array (grey photos are repeated to RGB)."""
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image
        img = load_sample_image(name)
    else:
        import skimage.data as data
        if name.startswith('motorcycle_'):
            left, right, _ = data.stereo_motorcycle()
            img = left if name.endswith('left') else right
        else:
            img = getattr(data, name)()
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return img[..., :3].astype(np.uint8)


def sample_photo_names() -> list[str]:
    """The photo names, in a fixed order."""
    return [*SKIMAGE_PHOTOS, *(n.split('.')[0] for n in SKLEARN_PHOTOS)]


def sample_photo(name: str) -> np.ndarray:
    """One of :func:`sample_photo_names` as an ``(H, W, 3)`` uint8 array, at the size its package ships it.

    Raises:
        ValueError: an unknown name (the message lists the names).
    """
    if name not in sample_photo_names():
        raise ValueError(f'unknown sample photo {name!r}; choose one of {sample_photo_names()}')
    return _load(f'{name}.jpg' if f'{name}.jpg' in SKLEARN_PHOTOS else name)


def write_sample_photos(root: str, max_side: int = 512) -> list[str]:
    """Write the sample photos as ``root/<name>.jpg`` (longer side at most ``max_side``).

    Args:
        root: output folder (new, empty, or one written by this function).
        max_side: photos are downscaled so that their longer side is at most this.

    Returns:
        The written (or already present) file paths.

    Raises:
        FileExistsError: ``root`` is not empty and holds no ``photos.json`` of ours.
    """
    names = sample_photo_names()
    files = [osp.join(root, f'{n}.jpg') for n in names]
    man = osp.join(root, MANIFEST)
    if osp.isfile(man):
        with open(man) as f:
            old = json.load(f)
        if old.get('names') == names and old.get('max_side') == max_side and all(map(osp.isfile, files)):
            return files
    elif osp.isdir(root) and os.listdir(root):
        raise FileExistsError(f'{root!r} is not empty and was not written by write_sample_photos; '
                              'choose another folder')
    os.makedirs(root, exist_ok=True)
    for name, path in zip(names, files):
        img = Image.fromarray(sample_photo(name))
        scale = max_side / max(img.size)
        if scale < 1:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
        img.save(path, quality=92)
    with open(man, 'w') as f:
        json.dump(dict(names=names, max_side=max_side, source='scikit-image and scikit-learn sample images'),
                  f, indent=2)
    return files

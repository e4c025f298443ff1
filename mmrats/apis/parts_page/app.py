"""The parts page laid out with Gradio: inputs on the left, the pictures of :mod:`.views` on the right.

Built on :mod:`mmrats.apis` only (the pictures come from :func:`.views.compute_views`). Every callback
catches what a user can get wrong (an image that cannot be read, a file that holds no backbone, a path that
does not exist) and shows it as a message in the page; the server goes on serving. Files the page writes
(the PNG to download; Gradio's uploads and image cache) go to one temporary folder, ``temp_dir``.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from mmrats.datasets.sample_photos import sample_photo, sample_photo_names
from mmrats.utils.images import ImageError, load_image
from mmrats.visualization import stack_pictures

from ..inputs import model_size
from ..weights import BackboneLoadError
from .checkpoints import CheckpointChoices
from .views import PageViews, compute_views, parts_view, read_image, register_view

logger = logging.getLogger('mmrats.parts_page')
MAX_K = 16
# What a user can get wrong; anything else is logged with its traceback and shown as an internal error.
USER_ERRORS = (ImageError, BackboneLoadError, ValueError, OSError)


def _message(e: Exception) -> str:
    if isinstance(e, USER_ERRORS):
        return f'**Error:** {e}'
    logger.exception('parts page: internal error')
    return f'**Error (internal):** {type(e).__name__}: {e}; the server log has the traceback'


class PartsPage:
    """The page's state on the server (the checkpoint menu) and its callbacks.

    Args:
        choices: the checkpoint menu.
        temp_dir: where the PNG downloads are written.
        max_gallery: register maps shown in the grid (the highest peaks); the menu below it has all.
    """

    def __init__(self, choices: CheckpointChoices, temp_dir: str | os.PathLike, max_gallery: int = 32) -> None:
        self.choices = choices
        self.temp_dir = Path(temp_dir)
        self.max_gallery = max_gallery

    # -- what is shown -------------------------------------------------------------------------------
    def _image(self, size: tuple[int, int], photo: str | None, upload: str | None) -> tuple[np.ndarray, str]:
        if upload:
            return read_image(upload, size)
        if photo not in sample_photo_names():
            raise ImageError('choose a bundled photo or upload an image (JPEG, PNG or WebP)')
        full = sample_photo(photo)
        return (load_image(full, size), f'{photo}: bundled photo, {full.shape[1]} x {full.shape[0]}, resized to '
                                        f'{size[1]} x {size[0]} (the model\'s input)')

    def _download(self, views: PageViews, big: np.ndarray | None, stem: str) -> str:
        pictures = [np.concatenate([views.image, views.parts, views.norms], axis=1)]
        if big is not None:
            pictures.append(big)
        if views.compress is not None:
            pictures.append(views.compress)
        stem = re.sub(r'[^A-Za-z0-9_.-]+', '_', stem)[:80]
        fd, path = tempfile.mkstemp(prefix=f'parts_{stem}_K{views.top_k}_', suffix='.png', dir=self.temp_dir)
        os.close(fd)
        Image.fromarray(stack_pictures(pictures)).save(path)
        return path

    def _outputs(self, views: PageViews, status: str, stem: str, rank: int = 0) -> tuple:
        gallery, big, menu = None, None, gr.update(choices=[], value=None)
        if views.register_maps is not None:
            n = len(views.register_maps)
            gallery = [(register_view(views, r), views.register_caption(r)) for r in range(min(n, self.max_gallery))]
            big = register_view(views, rank)
            menu = gr.update(choices=[(views.register_caption(r), r) for r in range(n)], value=rank)
        return (status, views.image, views.parts, views.norms, gallery, big, menu, views.compress,
                self._download(views, big, stem), dict(views=views, stem=stem, rank=rank))

    def _cleared(self, status: str) -> tuple:
        return (status, None, None, None, None, None, gr.update(choices=[], value=None), None, None, None)

    # -- callbacks ------------------------------------------------------------------------------------
    def show(self, photo: str | None, upload: str | None, choice: str, k: int) -> tuple:
        """Everything for an image (the upload if there is one, else the photo) under a checkpoint."""
        try:
            model = self.choices.load(choice)
            image, what = self._image(model_size(model), photo, upload)
            views = compute_views(model, image, int(k))
        except Exception as e:  # noqa: BLE001 (each error is a message in the page)
            return self._cleared(_message(e))
        label = 'the **untrained** model (random init: what the architecture computes before any training)' \
            if choice == self.choices.untrained_label else f'`{choice}`'
        lines = [f'{what}.', f'Checkpoint: {label}.', f'Parts at K = {views.top_k}: {views.num_parts} regions. '
                 f'Patch-token norms {views.norm_range[0]:.1f} to {views.norm_range[1]:.1f}.', *views.notes]
        stem = Path(upload).stem if upload else str(photo)
        return self._outputs(views, '  \n'.join(lines), stem)

    def change_k(self, state: dict | None, choice: str, k: int, status: str) -> tuple:
        """The part segmentation at a new ``K`` (the rest is unchanged)."""
        if not state:
            return gr.skip(), gr.skip(), gr.skip(), state
        try:
            views: PageViews = state['views']
            views.parts, views.num_parts = parts_view(self.choices.load(choice), views.image, int(k))
            views.top_k = int(k)
            big = None if views.register_maps is None else register_view(views, state['rank'])
        except Exception as e:  # noqa: BLE001
            return _message(e), gr.skip(), gr.skip(), state
        status = re.sub(r'Parts at K = \d+: \d+ regions', f'Parts at K = {views.top_k}: {views.num_parts} regions',
                        status or '')
        return status, views.parts, self._download(views, big, state['stem']), state

    def pick_register(self, state: dict | None, rank: int | None) -> tuple:
        """One register's map, large (from the menu or a click in the grid)."""
        if not state or rank is None or state['views'].register_maps is None:
            return gr.skip(), gr.skip(), state
        state['rank'] = int(rank)
        views: PageViews = state['views']
        big = register_view(views, state['rank'])
        return big, self._download(views, big, state['stem']), state

    def add_path(self, path: str, photo: str | None, upload: str | None, k: int) -> tuple:
        """A weights file typed by path: loaded, put in the menu, chosen and shown (or a message)."""
        try:
            added = self.choices.add(path)
        except Exception as e:  # noqa: BLE001
            return (_message(e), *([gr.skip()] * 9), gr.skip())
        return (*self.show(photo, upload, added, k), gr.update(choices=self.choices.choices(), value=added))


def build_page(page: PartsPage, default_photo: str = 'chelsea') -> gr.Blocks:
    """The Gradio page of ``page`` (call ``.launch()`` on it)."""
    choice, note = page.choices.default()
    with gr.Blocks(title='mmrats: see the parts', analytics_enabled=False) as demo:
        gr.Markdown('## mmrats: see the parts\nRegister maps, part segmentation, compress attention and token '
                    f'norms of any image under any checkpoint. {note}', elem_id='intro')
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                photo = gr.Dropdown(sample_photo_names(), value=default_photo, label='bundled photo',
                                    elem_id='photo')
                upload = gr.File(label='or upload an image (JPEG, PNG, WebP)', type='filepath',
                                 file_types=['.jpg', '.jpeg', '.png', '.webp'], elem_id='upload')
                ckpt = gr.Dropdown(page.choices.choices(), value=choice, label='checkpoint', elem_id='checkpoint')
                path = gr.Textbox(label='or a weights file by path (Enter to load)', elem_id='path')
                k = gr.Slider(1, MAX_K, value=8, step=1, label='K: parts', elem_id='k')
                status = gr.Markdown(elem_id='status')
                download = gr.DownloadButton('Download what is shown (PNG)', elem_id='download')
            with gr.Column(scale=3):
                with gr.Row():
                    img = _picture('input (the model\'s size)', 'input-image')
                    parts = _picture('part segmentation at K', 'parts')
                    norms = _picture('patch-token norms (last block)', 'norms')
                gallery = gr.Gallery(label='register maps, highest peak first (click one)', columns=8, height='auto',
                                     format='png', allow_preview=False, buttons=[], elem_id='registers')
                with gr.Row():
                    with gr.Column():
                        reg = gr.Dropdown([], label='register', elem_id='register')
                        big = _picture('the register, large', 'register-large', height=400)
                    compress = _picture('compress attention per head (RATS)', 'compress', height=None)
        shown = [status, img, parts, norms, gallery, big, reg, compress, download, state]
        photo.input(lambda p, c, n: page.show(p, None, c, n), [photo, ckpt, k], shown)
        upload.upload(page.show, [photo, upload, ckpt, k], shown)
        upload.clear(lambda p, c, n: page.show(p, None, c, n), [photo, ckpt, k], shown)
        ckpt.input(page.show, [photo, upload, ckpt, k], shown)
        # change, not release: typing a number into the slider's box must count too; a drag sends many
        # values and always_last computes only the newest one
        k.change(page.change_k, [state, ckpt, k, status], [status, parts, download, state], trigger_mode='always_last')
        gallery.select(_gallery_pick(page), [state], [big, download, state, reg])
        reg.input(page.pick_register, [state, reg], [big, download, state])
        path.submit(page.add_path, [path, photo, upload, k], [*shown, ckpt])
        demo.load(page.show, [photo, upload, ckpt, k], shown)
    return demo


def _picture(label: str, elem_id: str, height: int | None = 260) -> gr.Image:
    return gr.Image(label=label, format='png', height=height, interactive=False, buttons=['download', 'fullscreen'],
                    elem_id=elem_id)


def _gallery_pick(page: PartsPage):
    def pick(state: dict | None, evt: gr.SelectData) -> tuple:
        return (*page.pick_register(state, evt.index), evt.index)
    return pick

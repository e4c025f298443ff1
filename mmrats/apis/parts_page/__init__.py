"""The parts page: a local web page that shows what a checkpoint's registers do on any image.

:mod:`.views` turns an image and a backbone into the pictures the page shows
(all through :mod:`mmrats.apis`); :mod:`.checkpoints` finds and loads the
checkpoints it offers; :mod:`.app` lays them out with Gradio (imported only
by ``tools/analysis/parts_page.py``: Gradio is an optional dependency,
``requirements/page.txt``). The first two need no Gradio.
"""
from .checkpoints import UNTRAINED, CheckpointChoices, find_checkpoints
from .views import MAX_PIXELS, PageViews, compute_views, parts_view, read_image, register_view

__all__ = ['UNTRAINED', 'CheckpointChoices', 'find_checkpoints', 'MAX_PIXELS', 'PageViews', 'compute_views',
           'parts_view', 'read_image', 'register_view']

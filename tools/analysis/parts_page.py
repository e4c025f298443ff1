#!/usr/bin/env python
"""The parts page: a local web page that shows what a checkpoint's registers do on any image.

    python tools/analysis/parts_page.py [--port 7860] [--work-dirs work_dirs] [--checkpoint PATH]
        [--untrained-arch small] [--img-size 224] [--device cpu] [--host 127.0.0.1]

Pick a bundled photo or upload one, pick a checkpoint (those under ``--work-dirs``, any file by path, or the
untrained model), and see the part segmentation at K, the register maps ranked by peak, the compress
attention of every head and the token-norm map (docs/part_discovery.md#the-parts-page). Needs the page's
dependencies (requirements/page.txt): ``make parts-page`` installs them and starts this. It listens on
127.0.0.1 unless ``--host`` says otherwise. Everything it writes goes to one temporary folder, removed on exit.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

LOCAL = ('127.0.0.1', 'localhost', '::1')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1: this machine '
                   'only; another address serves the page, and the files it can load, to the network)')
    p.add_argument('--port', type=int, default=7860, help='port (0: a free one)')
    p.add_argument('--work-dirs', default='work_dirs', help='where the trained checkpoints are looked for')
    p.add_argument('--checkpoint', default=None, help='a weights file to add to the menu and show first')
    p.add_argument('--untrained-arch', default='small', help='RATSViT arch of the untrained model (tiny, small, '
                   'base)')
    p.add_argument('--img-size', type=int, default=224, help='input side of the untrained model')
    p.add_argument('--device', default='cpu', help='where the models run (cpu, cuda)')
    p.add_argument('--photo', default='chelsea', help='the bundled photo shown first')
    args = p.parse_args(argv)
    if args.img_size <= 0 or args.img_size % 16:
        p.error(f'--img-size {args.img_size} is not a positive multiple of 16')
    if not 0 <= args.port < 65536:
        p.error(f'--port {args.port} is not a port number (0-65535)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.host not in LOCAL:
        print(f'warning: --host {args.host}: the page is served to every machine that can reach this address, '
              'and anyone using it can load any .pth file this account can read', file=sys.stderr)
    temp = tempfile.mkdtemp(prefix='mmrats_parts_page_')
    # a plain `kill` (SIGTERM) ends the page like Ctrl-C does: through the finally below, temp folder removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Gradio's uploads and image cache go there too: set before gradio is imported.
    os.environ['GRADIO_TEMP_DIR'] = temp
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        try:
            import gradio  # noqa: F401
        except ImportError:
            raise SystemExit('error: the parts page needs gradio (requirements/page.txt): run make parts-page, or '
                             'bash tools/setup/install_page.sh PYTHON') from None
        from mmrats.apis.parts_page.app import PartsPage, build_page
        from mmrats.apis.parts_page.checkpoints import CheckpointChoices
        from mmrats.apis.weights import BackboneLoadError
        from mmrats.datasets.sample_photos import sample_photo_names

        if args.photo not in sample_photo_names():
            raise SystemExit(f'error: --photo {args.photo!r}: choose one of {", ".join(sample_photo_names())}')
        choices = CheckpointChoices(args.work_dirs, dict(arch=args.untrained_arch, img_size=args.img_size),
                                    args.device)
        try:
            choices.load(choices.untrained_label)
            if args.checkpoint:
                choices.add(args.checkpoint)
        except (BackboneLoadError, ValueError) as e:
            raise SystemExit(f'error: {"--checkpoint" if args.checkpoint else "--untrained-arch"}: {e}') from None
        demo = build_page(PartsPage(choices, temp), args.photo)
        demo.queue(default_concurrency_limit=1).launch(
            server_name=args.host, server_port=args.port or None, inbrowser=False, share=False, ssr_mode=False,
            max_file_size='200mb', enable_monitoring=False, show_error=True)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

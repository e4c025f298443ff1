"""The config handling that tools/train.py and tools/test.py share.

Standard OpenMMLab command-line semantics: ``--work-dir`` (default
``work_dirs/<config name>``), ``--resume [CKPT]``, ``--amp``, ``--show-dir``,
``--cfg-options``, ``--launcher``.
"""
import os.path as osp

from mmengine.config import Config


def enable_show_dir(cfg: Config, show_dir: str) -> None:
    """Turn on the toolbox's visualization hook, drawing into ``show_dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit("error: --show-dir needs default_hooks.visualization in the config")
    hook['draw'] = True
    if 'interval' in hook:
        hook['interval'] = 1
    cfg.visualizer['save_dir'] = show_dir
    hook['test_out_dir'] = show_dir


def build_cfg(args) -> Config:
    """An mmengine ``Config`` from the parsed command line (see module doc)."""
    if not osp.isfile(args.config):
        raise SystemExit(f'error: config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('AMP is already on in the config')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'error: --resume checkpoint {args.resume} does not exist')
        cfg.resume, cfg.load_from = True, args.resume
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)
    return cfg

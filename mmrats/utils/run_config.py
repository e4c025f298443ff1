"""The config handling that tools/train.py and tools/test.py share.

Standard OpenMMLab command-line semantics: ``--work-dir`` (default
``work_dirs/<config name>``), ``--resume [CKPT]``, ``--amp``, ``--auto-scale-lr``
(tools/train.py), ``--show-dir``, ``--cfg-options``, ``--launcher``.

Precision (``--amp`` and the configs that declare ``AmpOptimWrapper`` themselves, the DINO ones):
bf16 autocast without loss scaling on a CUDA device with native bf16 (compute capability >= 8:
A100, H100, RTX 30xx/40xx), float16 autocast with dynamic loss scaling on an older one (V100, T4),
and float32 (``OptimWrapper``) without CUDA, where mmengine's ``AmpOptimWrapper`` refuses to run.
A ``dtype`` given with ``--cfg-options optim_wrapper.dtype=...`` is kept.
"""
import logging
import os
import os.path as osp
import sys
import time
from typing import NoReturn

import torch
import torch.distributed as dist
from mmengine.config import Config

from .preflight.weights import WeightsError, check_checkpoint


def enable_show_dir(cfg: Config, show_dir: str) -> None:
    """Turn on the toolbox's visualization hook, drawing into ``show_dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit("error: --show-dir needs default_hooks.visualization in the config")
    hook['draw'] = True
    hook['interval'] = 1  # every test batch, not every 50th
    if str(hook.get('type', '')).endswith('DetVisualizationHook'):
        hook['test_out_dir'] = show_dir  # mmdet: one image per test sample
    else:
        cfg.visualizer['save_dir'] = show_dir  # mmseg/mmpretrain: the visualizer's backends write there


def amp_dtype() -> str | None:
    """The autocast dtype for this machine: ``'bfloat16'`` where the CUDA device computes in bf16
    natively, ``'float16'`` on an older CUDA device (emulated bf16 is not counted: it is slow),
    ``None`` without CUDA."""
    if not torch.cuda.is_available():
        return None
    return 'bfloat16' if torch.cuda.is_bf16_supported(including_emulation=False) else 'float16'


def set_precision(cfg: Config, amp: bool) -> Config:
    """``cfg.optim_wrapper`` for this machine; ``amp``: the ``--amp`` flag (see the module doc)."""
    ow = cfg.get('optim_wrapper')
    if ow is None:
        return cfg
    dtype = amp_dtype()
    if amp:
        if ow.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('AMP is already on in the config')
        else:
            ow.type = 'AmpOptimWrapper'
            if dtype is not None and 'dtype' not in ow:
                ow.dtype = dtype
            if ow.get('dtype') == 'bfloat16':
                # bf16 has float32's exponent range: no loss scaling (a disabled GradScaler)
                ow.setdefault('loss_scale', dict(enabled=False))
            else:
                ow.setdefault('loss_scale', 'dynamic')
            if dtype is not None:
                print(f'AMP: {ow.dtype} autocast' + ('' if ow.dtype == 'bfloat16' else ' with loss scaling'))
    if ow.get('type') != 'AmpOptimWrapper':
        return cfg
    if dtype is None:
        # mmengine's AmpOptimWrapper refuses the CPU; a CPU smoke run of a GPU config trains in float32
        print('note: no CUDA device: AmpOptimWrapper (mixed precision) is replaced by OptimWrapper (float32) '
              'for this CPU run', file=sys.stderr)
        ow.type = 'OptimWrapper'
        for key in ('dtype', 'loss_scale', 'use_fsdp'):
            ow.pop(key, None)
    elif ow.get('dtype') == 'bfloat16' and dtype == 'float16':
        print('note: this CUDA device has no native bfloat16: the bf16 config trains with float16 autocast '
              'and dynamic loss scaling', file=sys.stderr)
        ow.dtype = 'float16'
        scale = ow.get('loss_scale', 'dynamic')
        if isinstance(scale, dict) and scale.get('enabled', True) is False:  # bf16's disabled scaler
            ow.loss_scale = 'dynamic'
    return cfg


def enable_auto_scale_lr(cfg: Config) -> Config:
    """``--auto-scale-lr`` (as mmdet's and mmseg's tools/train.py): mmengine's ``Runner`` then scales
    every lr by (GPUs x ``train_dataloader.batch_size``) / ``auto_scale_lr.base_batch_size``."""
    if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
        raise SystemExit('error: --auto-scale-lr needs auto_scale_lr.base_batch_size in the config '
                         '(the total batch its lr was written for), e.g. '
                         '--cfg-options auto_scale_lr.base_batch_size=16')
    cfg.auto_scale_lr.enable = True
    return cfg


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
    set_precision(cfg, args.amp)
    if getattr(args, 'auto_scale_lr', False):  # tools/test.py has no such flag
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        try:
            check_checkpoint('--resume', args.resume)
        except WeightsError as e:
            raise SystemExit(f'error: {e}') from None
        cfg.resume, cfg.load_from = True, args.resume
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)
    unique_visualizer(cfg)
    return cfg


def unique_visualizer(cfg: Config) -> Config:
    """Give the config's visualizer a name no other run in this process has.

    The visualizer is a named global instance, and the mmseg/mmdet runtimes all call it
    'visualizer': a second run in the same process (the demo drivers, the tests) would get the
    first run's instance, and its logs and pictures would go to the first work dir.
    """
    vis = cfg.get('visualizer')
    if vis is not None and vis.get('name', 'visualizer') == 'visualizer':  # a user's own name is kept
        vis['name'] = f"visualizer:{osp.abspath(cfg.get('work_dir') or '.')}:{time.time_ns()}"
    return cfg


def prepare_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run on machines without CUDA (gloo, CPU processes).

    mmengine 0.10's ``init_dist`` calls ``torch.cuda.set_device`` and its
    ``Runner`` wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both
    fail without a GPU. Here the gloo process group is initialised first (the
    ``Runner`` then skips its own ``init_dist``) and the DDP wrapper gets
    ``device_ids=None``. A no-op without a launcher or with CUDA present.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'nccl')
    if backend != 'gloo':
        raise SystemExit(f'error: no CUDA device, and env_cfg.dist_cfg.backend={backend!r} needs one; '
                         'run on the CPU with --cfg-options env_cfg.dist_cfg.backend=gloo')
    if cfg.launcher != 'pytorch':
        raise SystemExit(f'error: on a machine without CUDA only --launcher pytorch (torchrun) is supported, '
                         f'got --launcher {cfg.launcher}')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False)))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


_CLOSED_GROUP = False  # set when release_distributed closed this process's group


def release_distributed() -> None:
    """Close the process group at the end of a distributed run (a no-op otherwise).

    A gloo group left open until the interpreter exits is torn down during
    finalisation, where its worker threads can abort the process (``terminate
    called without an active exception``, SIGABRT) after the run itself
    succeeded; ``torchrun`` then reports the whole job as failed. The barrier
    lets every rank finish its last collective first. Called only after a run
    that ended normally: a rank that failed must not wait on the others.
    """
    global _CLOSED_GROUP
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        _CLOSED_GROUP = True


def exit_process(code: int) -> NoReturn:
    """End a tool's process with ``code`` (what ``tools/train.py`` and ``tools/test.py`` run as scripts).

    After a distributed run whose group :func:`release_distributed` closed, the process leaves with
    ``os._exit`` once stdout, stderr and every log file are flushed. Objects that still hold the group
    (DDP's reducer, mmengine's cached CPU group) would otherwise be freed during interpreter
    finalisation, where gloo's threads can still abort a run that succeeded (seen about once in a dozen
    2-process runs on a loaded 2-core machine). Any other run exits normally.
    """
    if _CLOSED_GROUP:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

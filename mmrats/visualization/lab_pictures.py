"""Pictures of the lab-scale experiment: held-out images with each model's parts, RATS heads, training curves."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from mmrats.evaluation.lab.report import label, seeds_of
from mmrats.evaluation.part_segmentation import PartSegmenter
from mmrats.models.utils.candidate_maps import compress_attention_maps

from .part_pictures import _label_colors, _plt, _render, draw_head_attention

CURVES = ('loss', 'teacher_entropy', 'teacher_kl_uniform', 'accuracy_top-1')
VAL_CURVES = {'parts/m2o': 'val M2O (top-8), %', 'accuracy/top1': 'val category accuracy, %'}


@torch.no_grad()
def lab_pictures(results: dict, test, out_dir: Path, backbones: dict, num: int = 6, top_k: int = 8) -> list[Path]:
    """Grid of held-out images x (GT, RATS pretrained / untrained, ViT [CLS] heads, ViT + registers),
    per-head RATS register maps of a few images, and the training curves.

    Args:
        results: the run's ``lab_results.json``.
        test: the held-out images (:func:`mmrats.evaluation.lab.held_out`).
        out_dir: where the PNGs go.
        backbones: ``'<model> pretrained'`` / ``'<model> untrained'`` -> backbone, of the first seed.
    """
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = seeds_of(results)[0]
    bbs = backbones
    trained = 'supervised' if results.get('objective') == 'supervised' else 'pretrained'  # issue #26's control
    cols = ['rats pretrained', 'rats untrained', 'vit pretrained', 'vitreg pretrained']
    cols = [c for c in cols if c in bbs]
    x = test.tensor(slice(0, num))
    segs = {c: PartSegmenter(bbs[c], None, top_k, 1.0)(x)[0].labels.numpy() for c in cols}
    fig, axes = plt.subplots(num, 2 + len(cols), figsize=(2 * (2 + len(cols)), 2 * num), squeeze=False)
    for i in range(num):
        panels = [('image', test.images[i], None), ('ground truth', None, test.parts[i])]
        panels += [(c, None, segs[c][i]) for c in cols]
        for ax, (name, img, lab) in zip(axes[i], panels):
            ax.imshow(test.images[i] if img is None else img)
            if lab is not None:
                ax.imshow(_label_colors(lab), cmap='tab20', alpha=0.75, interpolation='nearest')
            ax.set_axis_off()
            if i == 0:
                ax.set_title(name.replace('pretrained', trained), fontsize=8)
    fig.suptitle(f'held-out images, top-{top_k} regions (seed {seed})', fontsize=9)
    paths = [out_dir / 'grid.png']
    Image.fromarray(_render(fig)).save(paths[-1])
    plt.close(fig)
    for state in ('pretrained', 'untrained'):
        key = f'rats {state}'
        if key in bbs:
            comp = compress_attention_maps(bbs[key], x[:3]).numpy()
            for i in range(len(comp)):
                paths.append(out_dir / f'rats_{state}_heads_{i}.png')
                Image.fromarray(draw_head_attention(test.images[i], comp[i], range(bbs[key].num_heads), 4,
                                                    f"RATS {state.replace('pretrained', trained)}: last-block "
                                                    'compress attention per head')).save(
                    paths[-1])
    runs = {(m, s): r for m in results['models'] for s in seeds_of(results)
            if (r := results['pretrain'].get(f'{m}/seed{s}'))}
    # DINO's monitors and validation M2O, or the supervised control's loss, accuracies (issue #26)
    keys = [k for k in CURVES if any(r['epochs'] and k in r['epochs'][0] for r in runs.values())]
    val = next((k for k in VAL_CURVES if any(r['val'] and k in r['val'][0] for r in runs.values())), None)
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(4 * (len(keys) + 1), 3.2), squeeze=False)
    axes = axes[0]
    for (m, s), r in runs.items():
        ep = [e['epoch'] for e in r['epochs']]
        kw = dict(color=f"C{results['models'].index(m)}", alpha=0.8,
                  label=label(m, results) if s == seeds_of(results)[0] else None)
        for ax, k in zip(axes, keys):
            ax.plot(ep, [e[k] for e in r['epochs']], **kw)
            ax.set_title(k, fontsize=9)
        if val and r['val']:
            axes[-1].plot([v['step'] for v in r['val']], [v[val] for v in r['val']], marker='o', **kw)
    axes[-1].set_title(VAL_CURVES.get(val, 'validation'), fontsize=9)
    for ax in axes:
        ax.set_xlabel('epoch')
    axes[0].legend(fontsize=7)
    paths.append(out_dir / 'curves.png')
    Image.fromarray(_render(fig)).save(paths[-1])
    plt.close(fig)
    return paths

from .part_pictures import draw_head_attention, draw_part_segmentation, plot_sweep
from .register_maps import draw_register_maps, register_similarity

__all__ = ['draw_head_attention', 'draw_part_segmentation', 'draw_register_maps', 'plot_sweep',
           'register_similarity']
from .part_dictionary_pictures import draw_entry_overlays, draw_part_heatmaps, draw_prototype_similarity

__all__ += ['draw_entry_overlays', 'draw_part_heatmaps', 'draw_prototype_similarity']
from .part_dictionary_show import entry_overlay_rows, save_dictionary_pictures  # noqa: E402

__all__ += ['entry_overlay_rows', 'save_dictionary_pictures']
from .overlays import overlay_labels, overlay_map, stack_pictures, upsample_map  # noqa: E402

__all__ += ['overlay_labels', 'overlay_map', 'stack_pictures', 'upsample_map']

from .register_maps import draw_register_maps, register_similarity

__all__ = ['draw_register_maps', 'register_similarity']

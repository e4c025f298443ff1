"""Datasets and transforms (registered in the mmrats scope)."""

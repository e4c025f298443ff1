"""Metrics (registered in the mmrats scope)."""

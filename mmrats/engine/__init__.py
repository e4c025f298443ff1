"""Hooks and other runner pieces (registered in the mmrats scope)."""

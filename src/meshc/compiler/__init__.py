"""Mesh spec model, validation and one renderer per target mesh."""

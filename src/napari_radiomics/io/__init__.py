"""Readers and writers of the formats the plugin opens; imports neither napari nor Qt."""

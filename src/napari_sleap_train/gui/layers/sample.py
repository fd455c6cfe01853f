"""napari sample data: the built-in synthetic project."""

from __future__ import annotations

from ...io.project import load_project
from ...sample.project import sample_dir
from .convert import LayerData, project_to_layers


def sample_project_layers() -> list[LayerData]:
    """Layers of the built-in sample project (written once to the user cache)."""
    return project_to_layers(load_project(sample_dir().project))

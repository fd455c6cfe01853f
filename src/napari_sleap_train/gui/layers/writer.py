"""napari writer: keypoint layers (with their video and skeleton) to a ``.slp`` file.

It accepts every kind of layer the reader and the docks make, so File ▸ Save Layers works
with all of them selected: the tracks are saved with the predictions they come from, and
what a ``.slp`` cannot hold (previews, training inputs, the raw predictions kept beside
smoothed ones) is left out."""

from __future__ import annotations

from ...errors import ProjectError
from .convert import LayerData, layers_to_project


def write_slp(path: str, layer_data: list[LayerData]) -> list[str]:
    """Save keypoint layers as a SLEAP project, atomically, keeping ``.bak`` of the old file."""
    if not str(path).lower().endswith(".slp"):
        raise ProjectError(f"{path}: SLEAP projects are saved with the .slp extension.")
    project = layers_to_project(layer_data)
    saved = str(project.save(path))
    if not sum(project.instance_counts()):
        from napari.utils.notifications import show_warning

        show_warning(
            f"Saved {saved} with its skeleton and videos but no instance: the keypoint "
            "layers saved hold no points."
        )
    return [saved]

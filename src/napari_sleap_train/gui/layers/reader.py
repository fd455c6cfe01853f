"""napari reader for SLEAP projects (``.slp``, ``.pkg.slp``), other tools' labels (DeepLabCut,
COCO, Label Studio, NWB, JABS, SLEAP analysis HDF5, Ultralytics ``data.yaml``: see
:mod:`napari_sleap_train.io.formats`) and bare videos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...io.formats import detect_format
from ...io.project import load_project
from ...io.video import LazyVideo
from .. import META_KEY
from .convert import LayerData, project_to_layers

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """Return a reader for a ``.slp`` project or a video file, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    name = str(path).lower()
    if name.endswith(".slp"):
        return read_project
    if name.endswith(VIDEO_SUFFIXES):
        return read_video
    if detect_format(Path(path)) is not None:
        return read_project
    return None


def read_project(path: str | list[str]) -> list[LayerData]:
    """Layers of a SLEAP project: video, user labels, predictions and skeleton edges."""
    if isinstance(path, list):
        path = path[0]
    project = load_project(path, allow_missing=True)
    if project.missing:
        from napari.utils.notifications import show_warning

        from ...io.project import video_name

        names = ", ".join(video_name(v) for v in project.missing)
        show_warning(
            f"{len(project.missing)} video(s) of {Path(path).name} were not found ({names}); "
            "the others are open. Label & Suggest ▸ Locate missing videos… points at their "
            "folder."
        )
    _watch_current_viewer()
    return project_to_layers(project)


def _watch_current_viewer() -> None:
    """Keep the skeleton layers of the viewer that opens the project on the shown frame
    (see :mod:`.frame_view`)."""
    import napari

    from .frame_view import watch

    viewer = napari.current_viewer()
    if viewer is not None:
        watch(viewer)


def read_video(path: str | list[str]) -> list[LayerData]:
    """A lazily decoded video as an Image layer, ready for a new project."""
    if isinstance(path, list):
        path = path[0]
    video = LazyVideo(path)
    kwargs = {
        "name": Path(path).name,
        "contrast_limits": [0, 255],
        "rgb": video.channels == 3,
        "metadata": {META_KEY: {"kind": "video"}},
    }
    return [(video, kwargs, "image")]

"""Skeleton layers that hold only the shown frame's lines.

napari slices a layer's whole data at every frame step, and a Vectors layer measures all
of it again for its thumbnail: for the edges of 10,000 predicted instances that is most
of a frame step. The skeleton layers (Vectors, of the user labels and of the predictions)
keep every frame's lines in their metadata (``frame_rows``) and show the current frame's;
the points layers, which the user edits, keep all their data. (A line Shapes layer costs
a frame step about 10 ms even when empty, so the user skeleton is a Vectors layer too.)
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import META_KEY

KEY = "frame_rows"
_watched: dict[int, weakref.ref] = {}


def as_vectors(segments: np.ndarray) -> np.ndarray:
    """Segments ``(E, 2, 3)`` (two ends) as Vectors data (start, offset; same frame)."""
    segments = np.asarray(segments, float).reshape(-1, 2, 3)
    vectors = segments.copy()
    vectors[:, 1] = segments[:, 1] - segments[:, 0]
    vectors[:, 1, 0] = 0
    return vectors


def frame_rows(
    lines: np.ndarray, colors: np.ndarray | str | None = None
) -> tuple[np.ndarray, np.ndarray | str | None, np.ndarray]:
    """Vectors ``(E, 2, 3)`` (frame first) sorted by frame, their colours, and the frames."""
    lines = np.asarray(lines, float).reshape(-1, 2, 3)
    order = np.argsort(lines[:, 0, 0], kind="stable")
    if isinstance(colors, np.ndarray):
        colors = colors[order]
    lines = lines[order]
    return lines, colors, lines[:, 0, 0].astype(np.int64)


def rows_at(rows: tuple, frame: int) -> tuple[np.ndarray, np.ndarray | str | None]:
    """The lines of one frame and their colours."""
    lines, colors, frames = rows
    a, b = np.searchsorted(frames, [frame, frame + 1])
    return lines[a:b], (colors[a:b] if isinstance(colors, np.ndarray) else colors)


def set_lines(layer, lines: np.ndarray, colors: np.ndarray | str | None, frame: int) -> None:
    """Give a skeleton Vectors layer every frame's ``lines`` (Vectors data) and show those
    of ``frame``."""
    rows = frame_rows(lines, colors)
    layer.metadata[META_KEY] = {**layer.metadata.get(META_KEY, {}), KEY: rows}
    _show(layer, frame)


def _show(layer, frame: int) -> None:
    rows = layer.metadata.get(META_KEY, {}).get(KEY)
    if rows is None:
        return
    lines, colors = rows_at(rows, frame)
    if not len(lines) and not len(layer.data):
        return  # nothing drawn before or now: most frames of a long video
    # The lines lie inside the video: the viewer's extent and dimensions stay as they are
    # (napari would measure every layer again after each change of data).
    with layer.events.extent.blocker(), layer.events.affine.blocker():
        layer.data = lines
        if isinstance(colors, np.ndarray) and len(lines):
            layer.edge_color = colors
        elif isinstance(colors, str) and layer.metadata[META_KEY].get("colour") != colors:
            layer.edge_color = colors  # one colour for every line: set once
            layer.metadata[META_KEY]["colour"] = colors
        if isinstance(colors, np.ndarray):
            layer.metadata[META_KEY]["colour"] = None


def current_frame(viewer) -> int:
    return int(viewer.dims.current_step[0]) if viewer.dims.ndim else 0


def watch(viewer) -> None:
    """Keep the skeleton layers of ``viewer`` on the shown frame (once per viewer)."""
    viewer = getattr(viewer, "__wrapped__", viewer)  # the docks get a proxy of the viewer
    key = id(viewer)
    if key in _watched and _watched[key]() is viewer:
        return
    _watched[key] = weakref.ref(viewer)
    last = {"frame": None}

    def on_step(_event=None) -> None:
        frame = current_frame(viewer)
        if frame == last["frame"]:
            return
        last["frame"] = frame
        for layer in list(viewer.layers):
            if layer.visible and KEY in layer.metadata.get(META_KEY, {}):
                _show(layer, frame)

    def on_inserted(event) -> None:
        layer = event.value
        if KEY in layer.metadata.get(META_KEY, {}):
            _show(layer, current_frame(viewer))

    def on_visible(event) -> None:
        layer = getattr(event, "source", None)
        if layer is not None and layer.visible and KEY in layer.metadata.get(META_KEY, {}):
            _show(layer, current_frame(viewer))

    viewer.dims.events.current_step.connect(on_step)
    viewer.layers.events.inserted.connect(on_inserted)
    viewer.layers.events.inserted.connect(
        lambda event: event.value.events.visible.connect(on_visible)
    )
    for layer in viewer.layers:
        layer.events.visible.connect(on_visible)

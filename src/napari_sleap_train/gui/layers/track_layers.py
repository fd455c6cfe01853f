"""Tracks in the viewer: points and skeleton coloured by track, and a napari Tracks layer of
each track's centre, so a swap shows at a glance."""

from __future__ import annotations

import numpy as np

from .. import META_KEY
from .points_table import PointsTable
from .track_edits import instance_summary, track_names

# matplotlib's tab10: distinct on dark and light backgrounds.
PALETTE = np.array(
    [
        [0.12, 0.47, 0.71, 1.0],
        [1.00, 0.50, 0.05, 1.0],
        [0.17, 0.63, 0.17, 1.0],
        [0.84, 0.15, 0.16, 1.0],
        [0.58, 0.40, 0.74, 1.0],
        [0.55, 0.34, 0.29, 1.0],
        [0.89, 0.47, 0.76, 1.0],
        [0.50, 0.50, 0.50, 1.0],
        [0.74, 0.74, 0.13, 1.0],
        [0.09, 0.75, 0.81, 1.0],
    ]
)
UNTRACKED = np.array([1.0, 1.0, 1.0, 0.6])
TAIL_LENGTH = 30
COLOUR_BY = "track_colour"  # the Tracks layer's feature its colours come from


def track_colors(names: list[str]) -> dict[str, np.ndarray]:
    """One colour per track name (in sorted order, cycling through :data:`PALETTE`)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}


def point_colors(table: PointsTable, colors: dict[str, np.ndarray]) -> np.ndarray:
    """``(P, 4)`` colour of each point by its track (untracked points pale white)."""
    track = table.features["track"].to_numpy(object).astype(str)
    out = np.tile(UNTRACKED, (len(track), 1))
    for name, rgba in colors.items():
        out[track == name] = rgba
    return out


def identity_colors(table: PointsTable) -> np.ndarray | None:
    """``(P, 4)`` colours by track, or None when nothing is tracked (colour by node)."""
    names = track_names(table)
    return point_colors(table, track_colors(names)) if names else None


def skeleton_vectors(
    table: PointsTable, edge_inds, colors: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | str]:
    """The predicted skeleton as Vectors data ``(E, 2, 3)`` and its colours: each edge that
    of its first point (``colors``, from :func:`identity_colors`), or all yellow when
    nothing is tracked (``colors`` None)."""
    src, dst = table.edge_rows(edge_inds)
    if not len(src):
        return np.zeros((0, 2, 3)), "yellow"
    vectors = np.stack([table.data[src], table.data[dst] - table.data[src]], axis=1)
    vectors[:, 1, 0] = 0
    return vectors, (colors[src] if colors is not None else "yellow")


def tracks_layer_data(table: PointsTable) -> tuple[np.ndarray, dict, list[str]]:
    """``(K, 4)`` ``track_id, frame, y, x`` rows of every tracked instance's centre, the
    Tracks layer's features and the track names (index = ``track_id``)."""
    frames, tracks, centres, _ = instance_summary(table)
    names = track_names(table)
    ids = {n: i for i, n in enumerate(names)}
    keep = (tracks != "") & np.isfinite(centres).all(axis=1)
    tid = np.array([ids[t] for t in tracks[keep]], dtype=float)
    data = np.column_stack([tid, frames[keep].astype(float), centres[keep]])
    order = np.lexsort((data[:, 1], data[:, 0])) if len(data) else np.zeros(0, int)
    data = data[order]
    index = data[:, 0].astype(int)
    colour = index / max(len(names) - 1, 1)  # napari maps a feature's values as they are
    return data, {"track_index": index, COLOUR_BY: colour}, names


def track_colormap(n: int):
    """A colormap giving track ``k`` of ``n`` (its :data:`COLOUR_BY` feature ``k / (n - 1)``,
    the middle of a colour's band) the colour :func:`track_colors` gives it."""
    from napari.utils.colormaps import Colormap

    colors = [PALETTE[i % len(PALETTE)] for i in range(max(n, 1))]
    if n <= 1:
        return Colormap([colors[0], colors[0]], name="tracks")
    edges = (np.arange(1, n) - 0.5) / (n - 1)
    controls = np.concatenate([[0.0], edges, [1.0]])
    return Colormap(colors, controls=controls, interpolation="zero", name="tracks")


def show_tracks(
    viewer,
    table: PointsTable,
    name: str,
    meta: dict,
    tail: int | None = None,
    below: str | None = None,
):
    """Add (under the layer ``below``) or refresh the Tracks layer ``name``; remove it when
    nothing is tracked. Returns the layer (or None)."""
    data, features, names = tracks_layer_data(table)
    layer = viewer.layers[name] if name in viewer.layers else None  # noqa: SIM401
    if not len(names):
        if layer is not None:
            viewer.layers.remove(layer)
        return None
    cmap = {COLOUR_BY: track_colormap(len(names))}
    if layer is None:
        layer = viewer.add_tracks(
            data,
            features=features,
            name=name,
            tail_length=tail or TAIL_LENGTH,
            color_by=COLOUR_BY,
            colormaps_dict=cmap,
            metadata={META_KEY: {**meta, "kind": "tracks", "track_names": names}},
        )
        if below is not None and below in viewer.layers:  # its points stay easy to pick
            viewer.layers.move(viewer.layers.index(layer), viewer.layers.index(below))
        return layer
    layer.color_by = "track_id"  # new data drops the features its colours come from
    layer.data = data
    layer.features = features
    layer.colormaps_dict = cmap
    layer.color_by = COLOUR_BY
    layer.metadata = {META_KEY: {**meta, "kind": "tracks", "track_names": names}}
    if tail is not None:
        layer.tail_length = tail
    return layer

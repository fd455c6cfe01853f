"""The project in a viewer: finding its layers, rebuilding it, refreshing predictions."""

from __future__ import annotations

import numpy as np

from ..errors import ProjectError
from ..project import Project
from ..video import LazyVideo
from .convert import (
    META_KEY,
    instances_to_table,
    point_size,
    points_layer_data,
    table_edges,
    video_name,
)


def _kind(layer) -> str | None:
    return layer.metadata.get(META_KEY, {}).get("kind")


def labels_layer(viewer, video_index: int = 0):
    """The user-labels Points layer of a video (one with a ``keypoint`` feature), or None."""
    candidates = [
        layer
        for layer in viewer.layers
        if layer._type_string == "points"
        and "keypoint" in layer.features
        and _kind(layer) not in ("predicted",)
        and layer.metadata.get(META_KEY, {}).get("video_index", 0) == video_index
    ]
    tagged = [layer for layer in candidates if _kind(layer) == "user"]
    return (tagged or candidates or [None])[0]


def _tagged_layer(viewer, type_string: str, kind: str, video_index: int):
    """The first layer of a type whose metadata marks it as ``kind`` for a video, or None."""
    for layer in viewer.layers:
        info = layer.metadata.get(META_KEY, {})
        if (
            layer._type_string == type_string
            and info.get("kind") == kind
            and info.get("video_index", 0) == video_index
        ):
            return layer
    return None


def predictions_layer(viewer, video_index: int = 0):
    """The predictions Points layer of a video, or None."""
    return _tagged_layer(viewer, "points", "predicted", video_index)


def skeleton_layer(viewer, video_index: int = 0):
    """The Shapes layer with the skeleton edges of a video's user labels, or None."""
    return _tagged_layer(viewer, "shapes", "skeleton", video_index)


def source_project(viewer) -> Project | None:
    """The project the layers were opened from (skeleton, videos, tracks, suggestions)."""
    first = labels_layer(viewer)
    layers = [first] if first is not None else []
    for layer in [*layers, *viewer.layers]:
        project = layer.metadata.get(META_KEY, {}).get("project")
        if project is not None:
            return project
    return None


def set_project(viewer, project: Project) -> None:
    """Make ``project`` the one every layer of the project refers to."""
    for layer in viewer.layers:
        info = layer.metadata.get(META_KEY)
        if info is not None and "project" in info:
            layer.metadata[META_KEY] = {**info, "project": project}


def video_layer(viewer):
    """The Image layer holding the (first) project video."""
    for layer in viewer.layers:
        if layer._type_string == "image" and isinstance(layer.data, LazyVideo):
            return layer
    return None


def project_from_viewer(viewer) -> Project:
    """Rebuild the project from the viewer's layers, with the user's latest edits."""
    from .convert import layers_to_project

    tuples = [
        layer.as_layer_data_tuple()
        for layer in viewer.layers
        if layer._type_string in ("image", "points")
        and (
            META_KEY in layer.metadata
            or isinstance(layer.data, LazyVideo)
            or "keypoint" in getattr(layer, "features", {})
        )
    ]
    tuples = [(d, {**m, "features": m.get("features")}, t) for d, m, t in tuples]
    if not any(t == "points" for _, _, t in tuples):
        raise ProjectError(
            "No labelled keypoints in the viewer: open a SLEAP project (.slp), the sample "
            "(File > Open Sample), or add a Points layer with a 'keypoint' feature."
        )
    return layers_to_project(tuples)


def frame_instances(layer, frame: int) -> np.ndarray:
    """Instances of a keypoints layer on one frame, as ``(M, N, 2)`` xy (NaN = missing)."""
    if layer is None or not len(layer.data):
        return np.zeros((0, 0, 2))
    nodes = (
        list(layer.features["keypoint"].cat.categories)
        if hasattr(layer.features["keypoint"], "cat")
        else sorted(set(layer.features["keypoint"]))
    )
    rows = np.flatnonzero(np.rint(layer.data[:, 0]) == frame)
    return _group(layer, rows, nodes)


def all_instances(layer) -> tuple[np.ndarray, np.ndarray]:
    """Every instance of a keypoints layer: frames ``(M,)`` and points ``(M, N, 2)``."""
    if layer is None or not len(layer.data):
        return np.zeros(0, int), np.zeros((0, 0, 2))
    nodes = (
        list(layer.features["keypoint"].cat.categories)
        if hasattr(layer.features["keypoint"], "cat")
        else sorted(set(layer.features["keypoint"]))
    )
    rows = np.arange(len(layer.data))
    pts = _group(layer, rows, nodes)
    inst = layer.features["instance"].to_numpy() if "instance" in layer.features else rows * 0
    keys = np.unique(np.stack([np.rint(layer.data[:, 0]).astype(int), inst], 1), axis=0)
    return keys[:, 0], pts


def _group(layer, rows: np.ndarray, nodes: list[str]) -> np.ndarray:
    if not len(rows):
        return np.zeros((0, len(nodes), 2))
    feats = layer.features
    inst = feats["instance"].to_numpy()[rows] if "instance" in feats else np.zeros(len(rows), int)
    frame = np.rint(layer.data[rows, 0]).astype(int)
    keys, which = np.unique(np.stack([frame, inst], 1), axis=0, return_inverse=True)
    which = which.ravel()
    node_idx = {n: i for i, n in enumerate(nodes)}
    node = np.array(
        [node_idx.get(k, -1) for k in feats["keypoint"].astype(str).to_numpy()[rows]], dtype=int
    )
    out = np.full((len(keys), len(nodes), 2), np.nan)
    ok = node >= 0
    out[which[ok], node[ok]] = layer.data[rows[ok]][:, [2, 1]]
    if "visible" in feats:
        vis = feats["visible"].to_numpy(bool)[rows]
        out[which[~vis], node[~vis]] = np.nan
    return out


def show_predictions(viewer, project: Project, video_index: int = 0) -> None:
    """Add or refresh the predictions Points layer and its skeleton for one video."""
    video = project.videos[video_index]
    name = video_name(video)
    frames = sorted(
        (lf for lf in project.labels.labeled_frames if lf.video is video),
        key=lambda lf: lf.frame_idx,
    )
    table = instances_to_table(frames, project.node_names, predicted=True)
    base = video_layer(viewer)
    size = point_size(base.data) if base is not None else 5.0
    meta = {META_KEY: {"project": project, "video_index": video_index}}
    data, kwargs, _ = points_layer_data(table, f"{name} predictions", meta, "predicted", size)
    low = table.features["confidence"].to_numpy() < 0.5
    kwargs["border_color"] = (
        np.where(low[:, None], [[1, 0, 0, 1]], [[0, 0, 0, 1]]) if len(low) else "black"
    )
    kwargs["border_width"] = np.where(low, 0.3, 0.05) if len(low) else 0.05
    layer_name = kwargs["name"]
    if layer_name in viewer.layers:
        # Refresh in place: removing a layer makes napari run a full garbage collection
        # (~0.7 s), which would freeze the viewer at every refresh during training.
        layer = viewer.layers[layer_name]
        # Predictions lie inside the video, so the viewer's extent need not be recomputed
        # (that reslices every layer and took most of the refresh time).
        with layer.events.extent.blocker():
            layer.data = data
        layer.features = kwargs["features"]
        for key in ("symbol", "border_color", "border_width"):
            setattr(layer, key, kwargs[key])
        layer.face_color = "keypoint"
        layer.metadata = kwargs["metadata"]
    else:
        viewer.add_points(data, **{k: v for k, v in kwargs.items() if k != "ndim"}, ndim=3)
    edges = table_edges(table, project.edge_inds, project.node_names)
    vec_name = f"{name} predicted skeleton"
    vectors = np.zeros((0, 2, 3))
    if len(edges):
        vectors = np.stack([edges[:, 0], edges[:, 1] - edges[:, 0]], axis=1)
        vectors[:, 1, 0] = 0
    if vec_name in viewer.layers:
        viewer.layers[vec_name].data = vectors
    else:
        viewer.add_vectors(
            vectors,
            name=vec_name,
            edge_color="yellow",
            edge_width=size / 4,
            vector_style="line",
            metadata={META_KEY: {**meta[META_KEY], "kind": "predicted skeleton"}},
        )
    for layer in viewer.layers:
        if META_KEY in layer.metadata:
            layer.metadata[META_KEY] = {**layer.metadata[META_KEY], "project": project}

"""The project in a viewer: finding its layers, rebuilding it, refreshing predictions."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

import numpy as np
import sleap_io as sio

from ...errors import ProjectError
from ...io.project import Project, video_name
from ...io.video import LazyVideo
from .. import META_KEY
from . import frame_view
from .convert import instances_to_table, point_size, points_layer_data
from .points_table import Counts, PointsTable, node_order
from .track_layers import identity_colors, show_tracks, skeleton_vectors


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
    """The Vectors layer with the skeleton edges of a video's user labels, or None."""
    return _tagged_layer(viewer, "vectors", "skeleton", video_index)


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


def video_layers(viewer) -> dict[int, object]:
    """The project's video Image layers by video index."""
    out: dict[int, object] = {}
    for layer in viewer.layers:
        if layer._type_string == "image" and isinstance(layer.data, LazyVideo):
            out.setdefault(int(layer.metadata.get(META_KEY, {}).get("video_index", 0)), layer)
    return out


def current_video_index(viewer) -> int:
    """The video being worked on: the first one whose Image layer is visible (else 0)."""
    videos = video_layers(viewer)
    shown = [i for i, layer in sorted(videos.items()) if layer.visible]
    return shown[0] if shown else min(videos, default=0)


def show_video(viewer, index: int) -> None:
    """Show the layers of video ``index`` (made from the project the first time) and hide
    those of the project's other videos."""
    frame_view.watch(viewer)
    if index not in video_layers(viewer):
        from napari.layers import Layer

        from .convert import project_to_layers

        project = source_project(viewer)
        if project is None or not 0 <= index < len(project.videos):
            return
        for data, kwargs, kind in project_to_layers(project, [index]):
            viewer.add_layer(Layer.create(data, kwargs, kind))
    for layer in viewer.layers:
        info = layer.metadata.get(META_KEY, {})
        if "video_index" in info:
            layer.visible = int(info["video_index"]) == index
    videos = video_layers(viewer)
    if index in videos:
        frames = int(videos[index].data.shape[0])
        if viewer.dims.current_step[0] >= frames:
            viewer.dims.set_current_step(0, 0)


class ProjectLayers:
    """The layers of the project open in a viewer, for one of its videos: the one asked
    for, or else the video being worked on (see :func:`current_video_index`)."""

    def __init__(self, viewer, video_index: int | None = None):
        self.viewer = viewer
        self._video_index = video_index
        self.busy = False
        self._counted: tuple[weakref.ref, dict[int, Counts]] | None = None

    @property
    def video_index(self) -> int:
        if self._video_index is not None:
            return self._video_index
        return current_video_index(self.viewer)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Mark layer changes made here (``busy``), so this dock's own listeners skip them."""
        before, self.busy = self.busy, True
        try:
            yield
        finally:
            self.busy = before

    @property
    def labels(self):
        """The user-labels Points layer, or None."""
        return labels_layer(self.viewer, self.video_index)

    @property
    def predictions(self):
        """The predictions Points layer, or None."""
        return predictions_layer(self.viewer, self.video_index)

    @property
    def skeleton_lines(self):
        """The Vectors layer of the user labels' skeleton edges, or None."""
        return skeleton_layer(self.viewer, self.video_index)

    @property
    def video(self):
        """The Image layer of the video, or None."""
        layer = video_layers(self.viewer).get(self.video_index)
        return layer if layer is not None else video_layer(self.viewer)

    @property
    def project(self) -> Project | None:
        """The project the layers came from (skeleton, videos, tracks, suggestions)."""
        return source_project(self.viewer)

    def node_names(self) -> list[str]:
        """The skeleton's nodes, or those of the labels layer without a project."""
        project = self.project
        if project is not None and project.has_skeleton:
            return project.node_names
        layer = self.labels
        return node_order(layer.features) if layer is not None else []

    def edge_inds(self) -> list[tuple[int, int]]:
        project = self.project
        return project.edge_inds if project is not None and project.has_skeleton else []

    def table(self, layer=None) -> PointsTable:
        """The keypoint table of ``layer`` (default: the labels layer)."""
        layer = self.labels if layer is None else layer
        if layer is None:
            return PointsTable.empty(self.node_names())
        return PointsTable.from_layer(layer, self.node_names())

    def training_counts(self, current: PointsTable | None = None) -> Counts:
        """What the next training run uses: the labels of every video of the project
        (``current``: the shown video's table, when the caller has it already)."""
        project = self.project
        n = len(project.videos) if project is not None else 1
        shown = self.video_index
        parts = []
        for index in range(max(n, 1)):
            layer = labels_layer(self.viewer, index)
            if index == shown and current is not None:
                parts.append(current.counts())
            elif layer is not None:
                parts.append(PointsTable.from_layer(layer, self.node_names()).counts())
            elif project is not None:  # a video not shown yet: as the project holds it
                if self._counted is None or self._counted[0]() is not project:
                    counts = {i: Counts(*c, 0) for i, c in project.user_counts().items()}
                    self._counted = (weakref.ref(project), counts)
                parts.append(self._counted[1].get(index, Counts(0, 0, 0)))
        return Counts(*(sum(c[k] for c in parts) for k in range(3))) if parts else Counts(0, 0, 0)

    def current_frame(self) -> int:
        dims = self.viewer.dims
        return int(dims.current_step[0]) if dims.ndim else 0

    def video_shape(self) -> tuple[int, int] | None:
        """Height and width of the video, or None without one."""
        layer = self.video
        return None if layer is None else (int(layer.data.shape[1]), int(layer.data.shape[2]))

    def rebuild(self) -> Project:
        """The project with the user's latest edits (see :func:`project_from_viewer`)."""
        return project_from_viewer(self.viewer)


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


def show_predictions(viewer, project: Project, video_index: int = 0) -> None:
    """Add or refresh the predictions Points layer and its skeleton for one video."""
    name = video_name(project.videos[video_index])
    table = instances_to_table(project.video_instances(video_index, True), project.node_names)
    base = video_layers(viewer).get(video_index)
    size = point_size(base.data) if base is not None else 5.0
    meta = {META_KEY: {"project": project, "video_index": video_index}}
    data, kwargs, _ = points_layer_data(table, f"{name} predictions", meta, "predicted", size)
    kwargs["border_color"], kwargs["border_width"] = doubt_outlines(table.features)
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
        layer.metadata = kwargs["metadata"]
    else:
        viewer.add_points(data, **{k: v for k, v in kwargs.items() if k != "ndim"}, ndim=3)
    show_identities(viewer, table, name, meta, project.edge_inds, size)
    for layer in viewer.layers:
        if META_KEY in layer.metadata:
            layer.metadata[META_KEY] = {**layer.metadata[META_KEY], "project": project}


RAW = "raw predictions"


def show_uncertainty(
    viewer,
    project: Project,
    video_index: int,
    uncertainty: dict[tuple[int, str | None], np.ndarray],
) -> None:
    """Each predicted body part's uncertainty (px; the smoother's, or an ensemble's spread)
    as the predictions layer's ``uncertainty`` feature (NaN where unknown)."""
    name = video_name(project.videos[video_index])
    layer_name = f"{name} predictions"
    if layer_name in viewer.layers and uncertainty:
        layer = viewer.layers[layer_name]
        features = layer.features
        nodes = {n: i for i, n in enumerate(project.node_names)}
        frames = np.asarray(layer.data[:, 0], dtype=int)
        tracks = features["track"].astype(str).to_numpy()
        keys = features["keypoint"].astype(str).to_numpy()
        sd = np.full(len(features), np.nan)
        for row, (frame, track, key) in enumerate(zip(frames, tracks, keys, strict=True)):
            found = uncertainty.get((int(frame), track or None))
            if found is not None:
                sd[row] = found[nodes[key]]
        layer.features = features.assign(uncertainty=sd)


def show_raw_predictions(viewer, project: Project, video_index: int, raw: sio.Labels) -> None:
    """After smoothing: the raw predictions as a hidden layer of their own beside the
    (smoothed) predictions layer."""
    name = video_name(project.videos[video_index])
    raw_project = Project(raw)
    table = instances_to_table(raw_project.video_instances(0, True), project.node_names)
    base = video_layers(viewer).get(video_index)
    size = point_size(base.data) if base is not None else 5.0
    data, kwargs, _ = points_layer_data(
        table, f"{name} raw predictions", {META_KEY: {}}, "predicted", size
    )
    # not the project's: saving layers leaves it out, the docks do not edit it
    kwargs["visible"], kwargs["metadata"] = False, {META_KEY: {"kind": RAW}}
    if kwargs["name"] in viewer.layers:
        viewer.layers.remove(kwargs["name"])
    viewer.add_points(data, **{k: v for k, v in kwargs.items() if k != "ndim"}, ndim=3)


DOUBT = 0.5
"""Predicted nodes scored below this, and instances whose identity (an ID model's
probability or the tracker's match score) is below it, are outlined."""
LOW_NODE = (1.0, 0.0, 0.0, 1.0)  # red: the node may be misplaced
LOW_IDENTITY = (1.0, 0.0, 1.0, 1.0)  # magenta: the instance may carry another animal's name


def doubt_outlines(features) -> tuple[np.ndarray | str, np.ndarray | float]:
    """Border colours and widths of predicted points: red around low-score nodes, magenta
    around every node of an instance with a doubtful identity, thin black elsewhere."""
    if not len(features):
        return "black", 0.05
    low = features["confidence"].to_numpy(float) < DOUBT
    identity = (
        features["tracking_score"].to_numpy(float)
        if "tracking_score" in features
        else np.ones(len(low))
    )
    named = features["track"].to_numpy(object) != ""
    doubtful = named & (np.nan_to_num(identity, nan=1.0) < DOUBT)
    colours = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (len(low), 1))
    colours[doubtful] = LOW_IDENTITY
    colours[low] = LOW_NODE
    return colours, np.where(low | doubtful, 0.3, 0.05)


def show_identities(viewer, table, name: str, meta: dict, edge_inds, size: float) -> None:
    """Colour a video's predictions by track (by node when untracked), draw their skeleton
    in the same colours, and show each track's path as a Tracks layer."""
    colors = identity_colors(table)
    layer = viewer.layers[f"{name} predictions"]
    layer.face_color = colors if colors is not None and len(table) else "keypoint"
    vectors, edge_color = skeleton_vectors(table, edge_inds, colors)
    vec_name = f"{name} predicted skeleton"
    if vec_name not in viewer.layers:
        viewer.add_vectors(
            np.zeros((0, 2, 3)),
            name=vec_name,
            edge_width=size / 4,
            vector_style="line",
            metadata={META_KEY: {**meta[META_KEY], "kind": "predicted skeleton"}},
        )
    frame_view.watch(viewer)
    frame = frame_view.current_frame(viewer)
    frame_view.set_lines(viewer.layers[vec_name], vectors, edge_color, frame)
    show_tracks(viewer, table, f"{name} tracks", meta[META_KEY], below=f"{name} predictions")

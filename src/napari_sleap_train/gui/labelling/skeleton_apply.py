"""Using an edited skeleton: a new project on a bare video, or the open project's skeleton
changed with its points kept (renamed nodes keep theirs, removed nodes lose theirs)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sleap_io as sio

from ...errors import ProjectError
from ...io.project import Project, video_name
from .. import META_KEY
from ..layers.convert import point_size, points_layer_data
from ..layers.points_table import PointsTable, normalise_features
from ..layers.project_layers import ProjectLayers, show_predictions


def start_project(layers: ProjectLayers, skeleton: sio.Skeleton) -> str:
    """A new project on the open bare video: an empty labels layer and its skeleton layer.
    Returns what happened, in words."""
    image = layers.video
    if image is None:
        raise ProjectError(
            "No video to label: open a video (File ▸ Open) before applying a skeleton."
        )
    lazy = image.data
    video = sio.load_video(lazy.filename)
    project = Project(labels=sio.Labels(videos=[video], skeletons=[skeleton]))
    name = video_name(video)
    info = {"project": project, "video_index": 0}
    image.metadata[META_KEY] = {**image.metadata.get(META_KEY, {}), **info}
    size = point_size(lazy)
    viewer = layers.viewer
    viewer.add_vectors(
        np.zeros((0, 2, 3)),
        vector_style="line",
        name=f"{name} skeleton",
        edge_color="white",
        edge_width=size / 4,
        metadata={META_KEY: {**info, "kind": "skeleton"}},
    )
    table = PointsTable.empty(skeleton.node_names)
    data, kwargs, _ = points_layer_data(table, f"{name} labels", {META_KEY: info}, "user", size)
    viewer.add_points(data, **{k: v for k, v in kwargs.items() if k != "ndim"}, ndim=3)
    return (
        f"New project on {name} with {len(skeleton.node_names)} nodes: go to a frame and "
        "press New instance."
    )


def update_skeleton(
    layers: ProjectLayers,
    skeleton: sio.Skeleton,
    rename: dict[str, str],
    notify: Callable[[object], None],
) -> str:
    """Give the open project ``skeleton``; ``rename`` maps old node names to new ones (a node
    not in it was removed, and so are its points). Returns what happened, in words."""
    project = layers.project
    nodes = list(skeleton.node_names)
    dropped = 0
    for layer in (layers.labels, layers.predictions):
        if layer is None:
            continue
        data = np.asarray(layer.data, float).reshape(-1, 3)
        feats = layer.features.copy()
        kp = feats["keypoint"].astype(object).map(lambda k: rename.get(k))
        keep = kp.notna().to_numpy() | feats["keypoint"].isna().to_numpy()
        dropped += int((~keep).sum())
        feats["keypoint"] = kp
        feats = feats[keep].reset_index(drop=True)
        with layers.quiet():
            layer.selected_data = set()
            with layer.events.data.blocker():
                layer.data = data[keep]
            layer.features = normalise_features(feats, nodes)
            visible = layer.features["visible"]
            layer.symbol = np.where(visible, "disc", "cross") if len(feats) else "disc"
            layer.face_color = "keypoint"
        notify(layer)
    if project is not None:
        project.labels.skeletons = [skeleton]
    if layers.predictions is not None:
        show_predictions(layers.viewer, layers.rebuild(), layers.video_index)
    note = f"; {dropped} point(s) of removed nodes deleted" if dropped else ""
    return f"Skeleton applied: {len(nodes)} nodes{note}."

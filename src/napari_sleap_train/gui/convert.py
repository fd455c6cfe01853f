"""Pure conversions between a project and napari layer data (no viewer needed).

Keypoints become a Points layer with data ``(frame, y, x)`` and the features
``individual``, ``keypoint`` and ``confidence`` (the columns the ``movement`` package
uses) plus ``instance``, ``track``, ``visible`` and ``score`` for round trips. User labels
and predictions are separate layers; skeleton edges of user labels are a Shapes layer of
lines, those of predictions (possibly every frame of a video) a Vectors layer, which napari
builds in milliseconds where a Shapes layer of ~50,000 lines takes ~10 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sleap_io as sio

from ..errors import ProjectError
from ..project import Project
from ..video import LazyVideo

META_KEY = "napari_sleap_train"
LayerData = tuple[Any, dict, str]
_POINT_FEATURES = ("individual", "keypoint", "confidence", "instance", "track", "visible", "score")


def video_name(video: sio.Video) -> str:
    """A short display name for a video (its file name)."""
    name = video.filename[0] if isinstance(video.filename, list) else video.filename
    return Path(name).name


@dataclass(frozen=True)
class PointsTable:
    """Flat keypoint table for one video: one row per point."""

    data: np.ndarray  # (P, 3) frame, y, x
    features: pd.DataFrame

    @property
    def n_instances(self) -> int:
        return int(self.features["instance"].nunique()) if len(self.features) else 0


def instances_to_table(
    frames: Sequence[sio.LabeledFrame], node_names: Sequence[str], predicted: bool
) -> PointsTable:
    """Flatten the user (or predicted) instances of ``frames`` into a points table.

    Nodes without coordinates are left out; nodes marked invisible but with stored
    coordinates are kept with ``visible`` False.
    """
    rows_xy, rows_frame, rows_inst, rows_node, rows_vis, rows_conf, rows_track, rows_score = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    inst_id = 0
    for lf in frames:
        insts = lf.predicted_instances if predicted else lf.user_instances
        for inst in insts:
            xy = inst.points["xy"]
            vis = inst.points["visible"]
            keep = np.isfinite(xy).all(axis=1)
            if not keep.any():
                continue
            n = int(keep.sum())
            rows_xy.append(xy[keep])
            rows_frame.append(np.full(n, lf.frame_idx))
            rows_inst.append(np.full(n, inst_id))
            rows_node.append(np.flatnonzero(keep))
            rows_vis.append(vis[keep])
            if predicted:
                rows_conf.append(inst.points["score"][keep])
                score = float(inst.score)
            else:
                rows_conf.append(np.full(n, np.nan))
                score = np.nan
            rows_score.append(np.full(n, score))
            rows_track.append([inst.track.name if inst.track else ""] * n)
            inst_id += 1
    if not rows_xy:
        return PointsTable(np.zeros((0, 3)), _empty_features(node_names))
    xy = np.concatenate(rows_xy)
    frame = np.concatenate(rows_frame)
    inst = np.concatenate(rows_inst)
    tracks = np.concatenate(rows_track).astype(object)
    individual = np.where(tracks != "", tracks, np.char.add("instance ", inst.astype(str)))
    names = np.asarray(node_names, dtype=object)
    features = pd.DataFrame(
        {
            "individual": pd.Categorical(individual.astype(str)),
            "keypoint": pd.Categorical(names[np.concatenate(rows_node)], categories=node_names),
            "confidence": np.concatenate(rows_conf).astype(float),
            "instance": inst.astype(int),
            "track": tracks.astype(str),
            "visible": np.concatenate(rows_vis).astype(bool),
            "score": np.concatenate(rows_score).astype(float),
        }
    )
    data = np.column_stack([frame.astype(float), xy[:, 1], xy[:, 0]])
    return PointsTable(data, features)


def _empty_features(node_names: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "individual": pd.Categorical([]),
            "keypoint": pd.Categorical([], categories=list(node_names)),
            "confidence": np.zeros(0),
            "instance": np.zeros(0, int),
            "track": np.zeros(0, str),
            "visible": np.zeros(0, bool),
            "score": np.zeros(0),
        }
    )


def table_edges(table: PointsTable, edge_inds: Sequence[tuple[int, int]], node_names) -> np.ndarray:
    """Skeleton edge segments of every instance as an ``(E, 2, 3)`` array of endpoints."""
    if not len(table.data) or not edge_inds:
        return np.zeros((0, 2, 3))
    node_idx = {n: i for i, n in enumerate(node_names)}
    inst = table.features["instance"].to_numpy()
    node = table.features["keypoint"].astype(str).map(node_idx).to_numpy()
    n_inst, n_nodes = int(inst.max()) + 1, len(node_names)
    lookup = np.full((n_inst, n_nodes), -1)
    lookup[inst, node] = np.arange(len(inst))
    src = lookup[:, [a for a, _ in edge_inds]].ravel()
    dst = lookup[:, [b for _, b in edge_inds]].ravel()
    ok = (src >= 0) & (dst >= 0)
    return np.stack([table.data[src[ok]], table.data[dst[ok]]], axis=1)


def point_size(video: LazyVideo) -> float:
    """A marker size that reads well at the video's resolution."""
    return float(max(3.0, max(video.shape[1], video.shape[2]) / 80))


def project_to_layers(project: Project) -> list[LayerData]:
    """Layer data for every video of ``project``: image, user labels, predictions, skeletons.

    Every video is opened before any layer is built, so a failure adds nothing.
    """
    videos = [LazyVideo(v) for v in project.videos]
    nodes = project.node_names if project.labels.skeletons else []
    edges = project.edge_inds if project.labels.skeletons else []
    layers: list[LayerData] = []
    for index, (video, lazy) in enumerate(zip(project.videos, videos)):
        name = video_name(video)
        meta = {META_KEY: {"project": project, "video_index": index}}
        frames = sorted(
            (lf for lf in project.labels.labeled_frames if lf.video is video),
            key=lambda lf: lf.frame_idx,
        )
        visible = index == 0
        layers.append(
            (
                lazy,
                {
                    "name": name,
                    "contrast_limits": [0, 255],
                    "rgb": lazy.channels == 3,
                    "metadata": dict(meta),
                    "visible": visible,
                },
                "image",
            )
        )
        size = point_size(lazy)
        user = instances_to_table(frames, nodes, predicted=False)
        pred = instances_to_table(frames, nodes, predicted=True)
        user_edges = table_edges(user, edges, nodes)
        layers.append(
            (
                [seg for seg in user_edges],
                {
                    "name": f"{name} skeleton",
                    "shape_type": "line",
                    "edge_color": "white",
                    "edge_width": size / 4,
                    "metadata": {META_KEY: {**meta[META_KEY], "kind": "skeleton"}},
                    "visible": visible,
                },
                "shapes",
            )
        )
        if len(pred.data):
            pred_edges = table_edges(pred, edges, nodes)
            vectors = np.stack([pred_edges[:, 0], pred_edges[:, 1] - pred_edges[:, 0]], axis=1)
            vectors[:, 1, 0] = 0
            layers.append(
                (
                    vectors,
                    {
                        "name": f"{name} predicted skeleton",
                        "edge_color": "yellow",
                        "edge_width": size / 4,
                        "vector_style": "line",
                        "metadata": {META_KEY: {**meta[META_KEY], "kind": "predicted skeleton"}},
                        "visible": visible,
                    },
                    "vectors",
                )
            )
            layers.append(points_layer_data(pred, f"{name} predictions", meta, "predicted", size))
        layers.append(points_layer_data(user, f"{name} labels", meta, "user", size))
        for _, kwargs, _ in layers[-4:]:
            kwargs["visible"] = visible
    return layers


def points_layer_data(
    table: PointsTable, name: str, meta: dict, kind: str, size: float
) -> LayerData:
    """Points layer data for a table, coloured by keypoint; invisible nodes drawn as crosses."""
    symbols = np.where(table.features["visible"].to_numpy(), "disc", "cross")
    kwargs = {
        "name": name,
        "features": table.features,
        "face_color": "keypoint",
        "size": size,
        "symbol": symbols if len(symbols) else "disc",
        "border_width": 0.1 if kind == "user" else 0.05,
        "border_color": "white" if kind == "user" else "black",
        "metadata": {META_KEY: {**meta[META_KEY], "kind": kind}},
        "ndim": 3,
        "visible": True,
    }
    return (table.data, kwargs, "points")


def table_to_instances(
    data: np.ndarray,
    features: pd.DataFrame,
    skeleton: sio.Skeleton,
    predicted: bool,
    tracks: dict[str, sio.Track],
) -> dict[int, list[sio.Instance]]:
    """Rebuild instances from a points table, grouped by frame index.

    Points are grouped by (frame, ``instance``); a point whose ``keypoint`` is missing or
    not a node of the skeleton raises :class:`ProjectError` naming the point.
    """
    node_idx = {n: i for i, n in enumerate(skeleton.node_names)}
    out: dict[int, list[sio.Instance]] = {}
    if not len(data):
        return out
    feats = features.reset_index(drop=True)
    kp = feats["keypoint"].astype(object).to_numpy()
    bad = [i for i, k in enumerate(kp) if k not in node_idx]
    if bad:
        raise ProjectError(
            f"{len(bad)} point(s) have no valid keypoint name (first: point {bad[0]} at "
            f"frame {int(data[bad[0], 0])}). Give each point a node of the skeleton or delete it."
        )
    frame = np.rint(data[:, 0]).astype(int)
    inst = feats["instance"].to_numpy() if "instance" in feats else np.zeros(len(data), int)
    dup = pd.DataFrame({"f": frame, "i": inst, "k": kp}).duplicated().to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        raise ProjectError(
            f"{int(dup.sum())} point(s) repeat a node of their instance (first: point {first}, "
            f"node {kp[first]!r} at frame {frame[first]}). Delete the extra point, or give it "
            "a missing node."
        )
    visible = feats["visible"].to_numpy(bool) if "visible" in feats else np.ones(len(data), bool)
    conf = feats["confidence"].to_numpy(float) if "confidence" in feats else np.ones(len(data))
    score = feats["score"].to_numpy(float) if "score" in feats else np.full(len(data), np.nan)
    track = feats["track"].astype(str).to_numpy() if "track" in feats else None
    order = np.lexsort((inst, frame))
    keys = np.stack([frame[order], inst[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, (np.diff(keys, axis=0) != 0).any(axis=1)])
    ends = np.r_[starts[1:], len(order)]
    n_nodes = len(skeleton.node_names)
    for s, e in zip(starts, ends):
        rows = order[s:e]
        pts = np.full((n_nodes, 3), np.nan)
        pts[:, 2] = 0
        nodes = np.array([node_idx[k] for k in kp[rows]])
        pts[nodes, 0] = data[rows, 2]
        pts[nodes, 1] = data[rows, 1]
        pts[nodes, 2] = visible[rows]
        name = track[rows[0]] if track is not None else ""
        trk = None
        if name and name != "nan":
            trk = tracks.setdefault(name, sio.Track(name=name))
        if predicted:
            point_scores = np.zeros(n_nodes)
            point_scores[nodes] = np.nan_to_num(conf[rows])
            inst_score = score[rows[0]]
            if not np.isfinite(inst_score):
                inst_score = float(np.nanmean(conf[rows])) if np.isfinite(conf[rows]).any() else 0
            obj = sio.PredictedInstance.from_numpy(
                pts,
                skeleton=skeleton,
                point_scores=point_scores,
                score=float(inst_score),
                track=trk,
            )
        else:
            obj = sio.Instance.from_numpy(pts, skeleton=skeleton, track=trk)
        out.setdefault(int(frame[rows[0]]), []).append(obj)
    return out


def layers_to_project(layers: Sequence[LayerData]) -> Project:
    """Build a project from layer data: keypoint layers, plus the video and skeleton.

    Layers made by :func:`project_to_layers` carry their project, whose videos, skeleton,
    tracks and suggestions are kept; the labelled frames of each video with keypoint layers
    are rebuilt from those layers. Otherwise the skeleton is taken from the ``keypoint``
    feature and the video from an Image layer over a video file.
    """
    points = [(d, m, t) for d, m, t in layers if t == "points" and "keypoint" in _features(m)]
    if not points:
        raise ProjectError(
            "No keypoint layer to save: a Points layer needs a 'keypoint' feature naming "
            "each point's node."
        )
    source = next(
        (m["metadata"][META_KEY]["project"] for _, m, _ in layers if _project_of(m)), None
    )
    if source is not None:
        skeleton, videos = source.skeleton, list(source.labels.videos)
        tracks = {t.name: t for t in source.labels.tracks}
        suggestions = list(source.labels.suggestions)
    else:
        skeleton = _skeleton_from_features(_features(points[0][1]))
        videos = [_video_from_layers(layers)]
        tracks, suggestions = {}, []
    rebuilt: dict[int, dict[int, list[sio.Instance]]] = {}
    for data, meta, _ in points:
        info = meta.get("metadata", {}).get(META_KEY, {})
        vi = int(info.get("video_index", 0))
        feats = _features(meta)
        kind = info.get("kind")
        if kind in ("user", "predicted"):
            predicted = kind == "predicted"
        else:
            conf = feats["confidence"] if "confidence" in feats else pd.Series(dtype=float)
            predicted = bool(np.isfinite(conf.to_numpy(float)).any())
        by_frame = table_to_instances(np.asarray(data), feats, skeleton, predicted, tracks)
        target = rebuilt.setdefault(vi, {})
        for f, insts in by_frame.items():
            target.setdefault(f, []).extend(insts)
    frames: list[sio.LabeledFrame] = []
    for vi, video in enumerate(videos):
        if vi in rebuilt:
            for f in sorted(rebuilt[vi]):
                frames.append(sio.LabeledFrame(video=video, frame_idx=f, instances=rebuilt[vi][f]))
        elif source is not None:
            frames.extend(lf for lf in source.labels.labeled_frames if lf.video is video)
    labels = sio.Labels(
        labeled_frames=frames,
        videos=videos,
        skeletons=[skeleton],
        tracks=list(tracks.values()),
        suggestions=suggestions,
    )
    return Project(labels=labels, path=source.path if source is not None else None)


def _features(meta: dict) -> pd.DataFrame:
    feats = meta.get("features")
    if feats is None:
        return pd.DataFrame()
    return feats if isinstance(feats, pd.DataFrame) else pd.DataFrame(feats)


def _project_of(meta: dict) -> Project | None:
    return meta.get("metadata", {}).get(META_KEY, {}).get("project")


def _skeleton_from_features(feats: pd.DataFrame) -> sio.Skeleton:
    kp = feats["keypoint"]
    if isinstance(kp.dtype, pd.CategoricalDtype):
        names = [str(c) for c in kp.cat.categories]
    else:
        names = [str(k) for k in dict.fromkeys(kp.astype(str))]
    if not names:
        raise ProjectError("The keypoint layer names no nodes: add points with keypoint names.")
    return sio.Skeleton(nodes=names)


def _video_from_layers(layers: Sequence[LayerData]) -> sio.Video:
    for data, _, kind in layers:
        if kind == "image" and isinstance(data, LazyVideo):
            return sio.load_video(data.filename)
    raise ProjectError(
        "No video to save with the keypoints: add the video as an Image layer opened with "
        "napari-sleap-train, and save it together with the keypoint layers."
    )

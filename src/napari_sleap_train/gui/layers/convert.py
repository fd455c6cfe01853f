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
from typing import Any

import numpy as np
import pandas as pd
import sleap_io as sio

from ...errors import ProjectError
from ...io.lazy_labels import VideoInstances, with_lists
from ...io.project import Project, video_name
from ...io.video import LazyVideo
from .. import META_KEY
from .points_table import PointsTable, node_order

LayerData = tuple[Any, dict, str]


def instances_to_table(instances: VideoInstances, node_names: Sequence[str]) -> PointsTable:
    """Flatten one video's instances into a points table.

    Nodes without coordinates are left out; nodes marked invisible but with stored
    coordinates are kept with ``visible`` False. Instances are numbered in order.
    """
    keep = np.isfinite(instances.xy).all(axis=2)
    inst_of, node = np.nonzero(keep)
    if not len(inst_of):
        return PointsTable.empty(node_names)
    shown = keep.any(axis=1)
    number = np.cumsum(shown) - 1  # instances without a node are not counted
    inst = number[inst_of]
    xy = instances.xy[inst_of, node]
    track = instances.track[shown].astype(str)  # per instance: strings are made M times, not P
    label = np.where(track != "", track, [f"instance {i}" for i in range(len(track))])
    categories, code = np.unique(label, return_inverse=True)
    tracks = track[inst]
    names = np.asarray(node_names, dtype=object)
    features = pd.DataFrame(
        {
            "individual": pd.Categorical.from_codes(code.ravel()[inst], categories),
            "keypoint": pd.Categorical(names[node], categories=node_names),
            "confidence": instances.point_score[inst_of, node].astype(float),
            "instance": inst.astype(int),
            "track": tracks,
            "visible": instances.visible[inst_of, node].astype(bool),
            "score": instances.score[inst_of].astype(float),
            "tracking_score": instances.tracking_score[inst_of].astype(float),
        }
    )
    data = np.column_stack([instances.frame[inst_of].astype(float), xy[:, 1], xy[:, 0]])
    return PointsTable(data, features, tuple(node_names))


def point_size(video: LazyVideo) -> float:
    """A marker size that reads well at the video's resolution."""
    return float(max(3.0, max(video.shape[1], video.shape[2]) / 80))


def project_to_layers(project: Project, videos: Sequence[int] | None = None) -> list[LayerData]:
    """Layer data for videos ``videos`` of ``project`` (default: the first one; the others'
    layers are made when a video is shown): image, user labels, predictions, skeletons.

    Every video asked for (by default: every video of the project) is opened before any
    layer is built, so an unreadable one adds nothing; videos not found on opening
    (:attr:`Project.missing`) get no layers until they are located. Only the first video
    asked for is visible.
    """
    from .frame_view import KEY as FRAME_ROWS
    from .frame_view import as_vectors, frame_rows, rows_at

    present = [i for i, v in enumerate(project.videos) if not project.is_missing(v)]
    opened = present if videos is None else [i for i in videos if i in present]
    lazies = {i: LazyVideo(project.videos[i]) for i in opened}
    nodes = project.node_names if project.has_skeleton else []
    edges = project.edge_inds if project.has_skeleton else []
    chosen = present[:1] if videos is None else [i for i in videos if i in lazies]
    layers: list[LayerData] = []
    for index in chosen if project.videos else []:
        video, lazy = project.videos[index], lazies[index]
        name = video_name(video)
        meta = {META_KEY: {"project": project, "video_index": index}}
        visible = index == chosen[0]
        first = len(layers)
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
        if nodes:
            user = instances_to_table(project.video_instances(index, False), nodes)
            pred = instances_to_table(project.video_instances(index, True), nodes)
        else:
            user = pred = PointsTable.empty(nodes)
        rows = frame_rows(as_vectors(user.edges(edges)), "white")
        layers.append(
            (
                rows_at(rows, 0)[0],
                {
                    "name": f"{name} skeleton",
                    "edge_color": "white",
                    "edge_width": size / 4,
                    "vector_style": "line",
                    "metadata": {
                        META_KEY: {**meta[META_KEY], "kind": "skeleton", FRAME_ROWS: rows}
                    },
                    "visible": visible,
                },
                "vectors",
            )
        )
        if len(pred.data):
            layers.extend(_prediction_layers(pred, name, meta, edges, size))
        layers.append(points_layer_data(user, f"{name} labels", meta, "user", size))
        for _, kwargs, _ in layers[first:]:
            kwargs["visible"] = visible
    return layers


def _prediction_layers(
    pred: PointsTable, name: str, meta: dict, edges, size: float
) -> list[LayerData]:
    """The predicted skeleton, once tracked the Tracks layer, and the predictions; points
    and skeleton coloured by track when there are tracks."""
    from .frame_view import KEY, frame_rows, rows_at
    from .track_layers import (
        COLOUR_BY,
        TAIL_LENGTH,
        identity_colors,
        skeleton_vectors,
        track_colormap,
        tracks_layer_data,
    )

    colours = identity_colors(pred)
    rows = frame_rows(*skeleton_vectors(pred, edges, colours))
    vectors, edge_color = rows_at(rows, 0)
    info = meta[META_KEY]
    out: list[LayerData] = [
        (
            vectors,
            {
                "name": f"{name} predicted skeleton",
                "edge_color": edge_color if len(vectors) else "yellow",
                "edge_width": size / 4,
                "vector_style": "line",
                "metadata": {META_KEY: {**info, "kind": "predicted skeleton", KEY: rows}},
            },
            "vectors",
        )
    ]
    tracked = bool((pred.features["track"] != "").any())
    data, features, names = tracks_layer_data(pred) if tracked else (None, None, [])
    if names:
        out.append(
            (
                data,
                {
                    "name": f"{name} tracks",
                    "features": features,
                    "tail_length": TAIL_LENGTH,
                    "color_by": COLOUR_BY,
                    "colormaps_dict": {COLOUR_BY: track_colormap(len(names))},
                    "metadata": {META_KEY: {**info, "kind": "tracks", "track_names": names}},
                },
                "tracks",
            )
        )
    points = points_layer_data(pred, f"{name} predictions", meta, "predicted", size)
    if colours is not None:
        points[1]["face_color"] = colours
    out.append(points)  # above the trails, so its points stay easy to pick
    return out


def points_layer_data(
    table: PointsTable, name: str, meta: dict, kind: str, size: float
) -> LayerData:
    """Points layer data for a table, coloured by keypoint; invisible nodes drawn as crosses."""
    visible = table.features["visible"].to_numpy(bool)
    # one symbol for all when every node is visible: napari converts a list one by one
    symbols = "disc" if visible.all() else np.where(visible, "disc", "cross")
    kwargs = {
        "name": name,
        "features": table.features,
        "face_color": "keypoint",
        "size": size,
        "symbol": symbols,
        "border_width": 0.1 if kind == "user" else 0.05,
        "border_color": "white" if kind == "user" else "black",
        "metadata": {META_KEY: {**meta[META_KEY], "kind": kind}},
        "ndim": 3,
        "visible": True,
    }
    # Column-major: napari takes the extent of the whole table at every frame step, and
    # a minimum over rows is 20 times faster on columns that lie contiguous in memory.
    return (np.asfortranarray(table.data), kwargs, "points")


def table_to_instances(
    data: np.ndarray,
    features: pd.DataFrame,
    skeleton: sio.Skeleton,
    predicted: bool,
    tracks: dict[str, sio.Track],
) -> dict[int, list[sio.Instance]]:
    """Rebuild instances from a points table, grouped by frame index.

    Points are grouped by (frame, ``instance``); a point whose ``keypoint`` is missing or
    not a node of the skeleton, or that repeats a node of its instance, raises
    :class:`ProjectError` naming the point.
    """
    out: dict[int, list[sio.Instance]] = {}
    if not len(data):
        return out
    raw = features.reset_index(drop=True)
    table = PointsTable.of(data, raw, skeleton.node_names)
    groups = table.instances
    missing = np.flatnonzero(groups.node < 0)
    if len(missing):
        first = int(missing[0])
        raise ProjectError(
            f"{len(missing)} point(s) have no valid keypoint name (first: point {first} at "
            f"frame {table.frames[first]}). Give each point a node of the skeleton or delete it."
        )
    repeated = table.problem_rows()
    if repeated:
        first = repeated[0]
        raise ProjectError(
            f"{len(repeated)} point(s) repeat a node of their instance (first: point {first}, "
            f"node {table.features['keypoint'].iloc[first]!r} at frame {table.frames[first]}). "
            "Delete the extra point, or give it a missing node."
        )
    feats = table.features
    xy = groups.per_node(table.data[:, [2, 1]])
    visible = groups.per_node(feats["visible"].to_numpy(float), fill=0)
    conf = raw["confidence"].to_numpy(float) if "confidence" in raw else np.ones(len(data))
    point_scores = groups.per_node(np.nan_to_num(conf), fill=0)
    for m, ((frame, _), rows) in enumerate(zip(groups.keys, groups.rows)):
        pts = np.concatenate([xy[m], visible[m][:, None]], axis=1)
        name = feats["track"].iloc[rows[0]]
        trk = tracks.setdefault(name, sio.Track(name=name)) if name else None
        if predicted:
            inst_score = feats["score"].iloc[rows[0]]
            if not np.isfinite(inst_score):
                inst_score = float(np.nanmean(conf[rows])) if np.isfinite(conf[rows]).any() else 0
            tracking = (
                feats["tracking_score"].iloc[rows[0]] if "tracking_score" in feats else np.nan
            )
            obj = sio.PredictedInstance.from_numpy(
                pts,
                skeleton=skeleton,
                point_scores=point_scores[m],
                score=float(inst_score),
                track=trk,
                tracking_score=float(tracking) if np.isfinite(tracking) else None,
            )
        else:
            obj = sio.Instance.from_numpy(pts, skeleton=skeleton, track=trk)
        out.setdefault(int(frame), []).append(obj)
    return out


def layers_to_project(layers: Sequence[LayerData]) -> Project:
    """Build a project from layer data: keypoint layers, plus the video and skeleton.

    Layers made by :func:`project_to_layers` carry their project, whose videos, skeleton,
    tracks and suggestions are kept; the labelled frames of each video with keypoint layers
    are rebuilt from those layers. Otherwise the skeleton is taken from the ``keypoint``
    feature and the video from an Image layer over a video file.
    """
    points = [
        (d, m, t)
        for d, m, t in layers
        if t == "points" and "keypoint" in _features(m) and _kind(m) != "raw predictions"
    ]
    if not points:
        raise ProjectError(
            "No keypoint layer to save: a Points layer needs a 'keypoint' feature naming "
            "each point's node."
        )
    source = next(
        (m["metadata"][META_KEY]["project"] for _, m, _ in layers if _project_of(m)), None
    )
    if source is not None:
        skeleton, videos = source.skeleton, source.videos
        tracks = {t.name: t for t in source.tracks}
        suggestions = list(source.header.suggestions)
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
    by_video = {
        vi: [
            sio.LabeledFrame(video=videos[vi], frame_idx=f, instances=by_frame[f])
            for f in sorted(by_frame)
        ]
        for vi, by_frame in rebuilt.items()
        if vi < len(videos)
    }
    missing = list(source.missing) if source is not None else []
    if source is not None and source.is_lazy:  # the other videos stay the file's arrays
        replaced = {**source.replaced, **by_video}
        labels = with_lists(source.header, list(tracks.values()), suggestions)
        return Project(labels=labels, path=source.path, missing=missing, replaced=replaced)
    frames: list[sio.LabeledFrame] = []
    for vi in range(len(videos)):
        if vi in by_video:
            frames.extend(by_video[vi])
        elif source is not None:
            frames.extend(source.video_frames(vi))
    labels = sio.Labels(
        labeled_frames=frames,
        videos=videos,
        skeletons=[skeleton],
        tracks=list(tracks.values()),
        suggestions=suggestions,
    )
    if source is not None:  # e.g. the instances marked as correct by the label check
        labels.provenance = dict(source.header.provenance)
    return Project(labels=labels, path=source.path if source is not None else None, missing=missing)


def _features(meta: dict) -> pd.DataFrame:
    feats = meta.get("features")
    if feats is None:
        return pd.DataFrame()
    return feats if isinstance(feats, pd.DataFrame) else pd.DataFrame(feats)


def _kind(meta: dict) -> str | None:
    return meta.get("metadata", {}).get(META_KEY, {}).get("kind")


def _project_of(meta: dict) -> Project | None:
    return meta.get("metadata", {}).get(META_KEY, {}).get("project")


def _skeleton_from_features(feats: pd.DataFrame) -> sio.Skeleton:
    names = node_order(feats)
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

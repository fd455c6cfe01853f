"""Projects of real size without a Python object per instance.

sleap-io reads a ``.slp`` file lazily (``lazy=True``): its frames, instances and points stay
the file's columnar arrays until they are materialized (about 30 µs an instance). These
functions work on those arrays: one video's instances (for its layers), counts per video,
the frames of one video, and a project in which some videos' frames were replaced while
every other video keeps its rows as read, which sleap-io saves as arrays (0.1 s for
200,000 instances, against 15 s for the same instances as objects).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sleap_io as sio

USER, PREDICTED = 0, 1


@dataclass(frozen=True)
class VideoInstances:
    """The user or the predicted instances of one video, in frame order."""

    frame: np.ndarray  # (M,) frame index
    xy: np.ndarray  # (M, N, 2) as stored; NaN where a node has no coordinates
    visible: np.ndarray  # (M, N) bool
    point_score: np.ndarray  # (M, N); NaN for user instances
    score: np.ndarray  # (M,); NaN for user instances
    track: np.ndarray  # (M,) track name, "" when untracked
    tracking_score: np.ndarray  # (M,)

    @classmethod
    def empty(cls, n_nodes: int) -> VideoInstances:
        return cls(
            np.zeros(0, int),
            np.zeros((0, n_nodes, 2)),
            np.zeros((0, n_nodes), bool),
            np.zeros((0, n_nodes)),
            np.zeros(0),
            np.zeros(0, dtype=object),
            np.zeros(0),
        )

    @classmethod
    def from_frames(
        cls, frames: Sequence[sio.LabeledFrame], n_nodes: int, predicted: bool
    ) -> VideoInstances:
        """The instances of ``frames`` (sorted by frame index first)."""
        rows = [
            (lf.frame_idx, inst)
            for lf in sorted(frames, key=lambda lf: lf.frame_idx)
            for inst in (lf.predicted_instances if predicted else lf.user_instances)
        ]
        if not rows:
            return cls.empty(n_nodes)
        pts = [inst.points for _, inst in rows]
        nan = np.full(n_nodes, np.nan)
        return cls(
            np.array([f for f, _ in rows], int),
            np.stack([p["xy"] for p in pts]).astype(float),
            np.stack([p["visible"] for p in pts]).astype(bool),
            np.stack([p["score"] if predicted else nan for p in pts]).astype(float),
            np.array([float(i.score) if predicted else np.nan for _, i in rows]),
            np.array([i.track.name if i.track else "" for _, i in rows], dtype=object),
            np.array([_tracking(i) for _, i in rows], float),
        )


def _tracking(inst: sio.Instance) -> float:
    value = getattr(inst, "tracking_score", None)
    return np.nan if value is None else float(value)


def is_lazy(labels: sio.Labels) -> bool:
    """Whether ``labels`` still holds the file's arrays (see :func:`load_lazy`)."""
    return bool(getattr(labels, "is_lazy", False))


def load_lazy(path: str | Path) -> sio.Labels:
    """The labels of a ``.slp`` file as its arrays (videos not opened), or eagerly when the
    file holds more than skeleton poses (masks, identities, sessions, embedded images, …),
    which these functions leave to sleap-io."""
    labels = sio.load_slp(str(path), open_videos=False, lazy=True)
    if not _plain(labels):
        return labels.materialize()
    return labels


def _plain(labels: sio.Labels) -> bool:
    """Whether a lazy ``labels`` holds poses only, all of its single skeleton."""
    store = getattr(labels, "_lazy_store", None)
    if store is None or len(labels.skeletons) != 1:
        return False
    extras = (
        store._centroid_by_frame,
        store._bbox_by_frame,
        store._mask_by_frame,
        store._label_image_by_frame,
        store._roi_by_frame,
        store._undistributed_rois,
        store._undistributed_masks,
        store._undistributed_bboxes,
        store._undistributed_centroids,
        store._undistributed_label_images,
        store.identities,
        store.categories,
        store._negative_frames,
        labels.labeled_frames._supplementary,
    )
    if any(len(x) for x in extras) or store.session_data is not None:
        return False
    if any(str(v.filename).endswith(".slp") for v in labels.videos):
        return False  # embedded frames (.pkg.slp)
    inst = store.instances_data
    if len(inst) and (inst["skeleton"] != 0).any():
        return False
    n = len(labels.skeletons[0].nodes)
    return not len(inst) or bool(((inst["point_id_end"] - inst["point_id_start"]) == n).all())


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, e) for s, e in zip(starts, ends)])``, without the loop."""
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    lengths = ends - starts
    if not len(lengths) or not lengths.sum():
        return np.zeros(0, np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(int(lengths.sum()))


def _store(labels: sio.Labels):
    return labels._lazy_store


def _frame_rows(labels: sio.Labels, video_index: int) -> np.ndarray:
    """Rows of the frames table of one video, in frame order."""
    frames = _store(labels).frames_data
    rows = np.flatnonzero(frames["video"] == video_index)
    return rows[np.argsort(frames["frame_idx"][rows], kind="stable")]


def video_instances(labels: sio.Labels, video_index: int, predicted: bool) -> VideoInstances:
    """The user (or predicted) instances of video ``video_index`` of lazy ``labels``."""
    store = _store(labels)
    n_nodes = len(labels.skeletons[0].nodes)
    frames = store.frames_data[_frame_rows(labels, video_index)]
    starts, ends = frames["instance_id_start"], frames["instance_id_end"]
    frame_of = np.repeat(frames["frame_idx"].astype(int), (ends - starts).astype(np.int64))
    inst = store.instances_data[_ranges(starts, ends)]
    keep = inst["instance_type"] == (PREDICTED if predicted else USER)
    inst, frame_of = inst[keep], frame_of[keep]
    if not len(inst):
        return VideoInstances.empty(n_nodes)
    table = store.pred_points_data if predicted else store.points_data
    pts = table[_ranges(inst["point_id_start"], inst["point_id_end"])].reshape(len(inst), n_nodes)
    xy = np.stack([pts["x"], pts["y"]], axis=-1).astype(float)
    if store.format_id < 1.1:
        xy -= 0.5  # the legacy pixel-corner convention, as sleap-io reads it
    names = np.array([t.name for t in store.tracks] + [""], dtype=object)
    track = names[np.where(inst["track"] >= 0, inst["track"], len(store.tracks))]
    if "tracking_score" in inst.dtype.names:
        tracking = inst["tracking_score"].astype(float)
    else:
        tracking = np.zeros(len(inst))
    return VideoInstances(
        frame_of,
        xy,
        pts["visible"].astype(bool),
        pts["score"].astype(float) if predicted else np.full((len(inst), n_nodes), np.nan),
        inst["score"].astype(float) if predicted else np.full(len(inst), np.nan),
        track,
        tracking,
    )


def video_frames(labels: sio.Labels, video_index: int) -> list[sio.LabeledFrame]:
    """The labelled frames of one video of lazy ``labels`` as objects, in frame order."""
    return _materialize(_store(labels), _frame_rows(labels, video_index))


def _materialize(store, rows: np.ndarray) -> list[sio.LabeledFrame]:
    """Frames ``rows`` of the store as objects, each user instance linked to the
    prediction it was made from (which sleap-io 0.9.5 leaves out when materializing)."""
    frames = [store.materialize_frame(int(i)) for i in rows]
    table = store.instances_data
    by_row: dict[int, sio.Instance] = {}
    for i, lf in zip(rows, frames, strict=True):
        start = int(store.frames_data["instance_id_start"][i])
        by_row.update((start + k, inst) for k, inst in enumerate(lf.instances))
    source = table["from_predicted"]
    for row, inst in by_row.items():
        link = int(source[row])
        if link >= 0 and link in by_row:
            inst.from_predicted = by_row[link]
    return frames


def user_counts(labels: sio.Labels) -> dict[int, tuple[int, int]]:
    """By video index: frames with a user instance that has a visible node, and those
    instances, of lazy ``labels``."""
    store = _store(labels)
    frames, inst = store.frames_data, store.instances_data
    owner = np.repeat(
        np.arange(len(frames)),
        (frames["instance_id_end"] - frames["instance_id_start"]).astype(np.int64),
    )
    order = _ranges(frames["instance_id_start"], frames["instance_id_end"])
    user = inst["instance_type"][order] == USER
    rows, owner = order[user], owner[user]
    if not len(rows):
        return {}
    n = len(labels.skeletons[0].nodes)
    pts = store.points_data[_ranges(inst["point_id_start"][rows], inst["point_id_end"][rows])]
    pts = pts.reshape(len(rows), n)
    shown = (pts["visible"] & np.isfinite(pts["x"]) & np.isfinite(pts["y"])).any(axis=1)
    out: dict[int, tuple[int, int]] = {}
    video = frames["video"][owner[shown]].astype(int)
    for v in np.unique(video):
        mine = owner[shown][video == v]
        out[int(v)] = (len(np.unique(mine)), len(mine))
    return out


def instance_counts(labels: sio.Labels, videos: set[int] | None = None) -> tuple[int, int]:
    """User and predicted instances of lazy ``labels`` (of ``videos`` only, if given)."""
    store = _store(labels)
    frames = store.frames_data
    if videos is not None:
        frames = frames[np.isin(frames["video"], sorted(videos))]
    rows = _ranges(frames["instance_id_start"], frames["instance_id_end"])
    kinds = store.instances_data["instance_type"][rows]
    return int((kinds == USER).sum()), int((kinds == PREDICTED).sum())


def materialize(labels: sio.Labels, replaced: dict[int, list[sio.LabeledFrame]]) -> sio.Labels:
    """Labels with every frame as objects: those of ``replaced`` (by video index) in place
    of their videos' rows, the others made from the arrays; videos, skeleton, tracks and
    suggestions stay the same objects."""
    store = _store(labels)
    frames: list[sio.LabeledFrame] = []
    for index in range(len(labels.videos)):
        if index in replaced:
            frames.extend(sorted(replaced[index], key=lambda lf: lf.frame_idx))
        else:
            frames.extend(_materialize(store, _frame_rows(labels, index)))
    return sio.Labels(
        labeled_frames=frames,
        videos=list(labels.videos),
        skeletons=list(labels.skeletons),
        tracks=list(labels.tracks),
        suggestions=list(labels.suggestions),
        provenance=dict(labels.provenance),
    )


def replace_videos(
    labels: sio.Labels,
    replaced: dict[int, list[sio.LabeledFrame]],
    tracks: Sequence[sio.Track],
    suggestions: Sequence[sio.SuggestionFrame],
) -> sio.Labels:
    """Lazy labels whose videos in ``replaced`` hold those frames and whose other videos
    keep the rows of lazy ``labels``; ``tracks`` must hold every track either part uses.

    The replaced frames are encoded by sleap-io itself (written to a temporary file and
    read back as arrays), so only row numbers are changed here.
    """
    from sleap_io.io.slp_lazy import LazyDataStore, LazyFrameList

    videos, skeletons = list(labels.videos), list(labels.skeletons)
    kept_tracks = list(_store(labels).tracks)  # the kept rows' track numbers index these
    tracks = kept_tracks + [t for t in tracks if not any(t is k for k in kept_tracks)]
    new = [lf for index in sorted(replaced) for lf in replaced[index]]
    part = sio.Labels(labeled_frames=new, videos=videos, skeletons=skeletons, tracks=tracks)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part.slp"
        sio.save_slp(part, str(path), embed=False, verbose=False)
        written = sio.load_slp(str(path), open_videos=False, lazy=True)
    if [t.name for t in written.tracks] != [t.name for t in tracks] or len(written.videos) != len(
        videos
    ):
        raise ValueError("sleap-io wrote the tracks or videos in another order")
    kept = _keep_videos(_store(labels), set(replaced))
    added = _store(written)
    arrays = _concatenate(kept, _as_store_arrays(added), added.instances_data.dtype)
    store = LazyDataStore(
        frames_data=arrays[0],
        instances_data=arrays[1],
        pred_points_data=arrays[2],
        points_data=arrays[3],
        videos=videos,
        skeletons=skeletons,
        tracks=tracks,
        format_id=added.format_id,
    )
    return sio.Labels(
        labeled_frames=LazyFrameList(store),
        videos=videos,
        skeletons=skeletons,
        tracks=tracks,
        suggestions=list(suggestions),
        provenance=dict(labels.provenance),
        lazy_store=store,
    )


def with_lists(
    labels: sio.Labels, tracks: Sequence[sio.Track], suggestions: Sequence[sio.SuggestionFrame]
) -> sio.Labels:
    """Lazy ``labels`` over the same arrays, with their own lists of tracks and
    suggestions."""
    from sleap_io.io.slp_lazy import LazyFrameList

    store = _store(labels)
    return sio.Labels(
        labeled_frames=LazyFrameList(store),
        videos=list(labels.videos),
        skeletons=list(labels.skeletons),
        tracks=list(tracks),
        suggestions=list(suggestions),
        provenance=dict(labels.provenance),
        lazy_store=store,
    )


_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _as_store_arrays(store) -> _Arrays:
    return store.frames_data, store.instances_data, store.pred_points_data, store.points_data


def _keep_videos(store, dropped: set[int]) -> _Arrays:
    """The rows of every video not in ``dropped``, renumbered from 0."""
    frames = store.frames_data
    frames = frames[~np.isin(frames["video"], sorted(dropped))].copy()
    starts, ends = frames["instance_id_start"], frames["instance_id_end"]
    old = _ranges(starts, ends)
    inst = store.instances_data[old].copy()
    lengths = (ends - starts).astype(np.int64)
    frames["frame_id"] = np.arange(len(frames))
    frames["instance_id_end"] = np.cumsum(lengths)
    frames["instance_id_start"] = frames["instance_id_end"] - lengths
    renumber = np.full(len(store.instances_data), -1, np.int64)
    renumber[old] = np.arange(len(old))
    inst["instance_id"] = np.arange(len(inst))
    inst["frame_id"] = np.repeat(np.arange(len(frames)), lengths)
    linked = inst["from_predicted"] >= 0
    inst["from_predicted"][linked] = renumber[inst["from_predicted"][linked]]
    tables = []
    for kind, table in ((PREDICTED, store.pred_points_data), (USER, store.points_data)):
        mine = inst["instance_type"] == kind
        s, e = inst["point_id_start"][mine], inst["point_id_end"][mine]
        tables.append(table[_ranges(s, e)])
        n = (e - s).astype(np.int64)
        inst["point_id_end"][mine] = np.cumsum(n)
        inst["point_id_start"][mine] = np.cumsum(n) - n
    return frames, inst, tables[0], tables[1]


def _concatenate(first: _Arrays, second: _Arrays, inst_dtype: np.dtype) -> _Arrays:
    """Both parts' rows in one set of arrays, the second's row numbers shifted."""
    f1, i1, p1, u1 = first
    f2, i2, p2, u2 = (a.copy() for a in second)
    i1 = _cast(i1, inst_dtype)
    f2["frame_id"] += len(f1)
    f2["instance_id_start"] += len(i1)
    f2["instance_id_end"] += len(i1)
    i2["instance_id"] += len(i1)
    i2["frame_id"] += len(f1)
    i2["from_predicted"][i2["from_predicted"] >= 0] += len(i1)
    for kind, shift in ((PREDICTED, len(p1)), (USER, len(u1))):
        mine = i2["instance_type"] == kind
        i2["point_id_start"][mine] += shift
        i2["point_id_end"][mine] += shift
    return (
        np.concatenate([_cast(f1, f2.dtype), f2]),
        np.concatenate([i1, i2]),
        np.concatenate([_cast(p1, p2.dtype), p2]),
        np.concatenate([_cast(u1, u2.dtype), u2]),
    )


def _cast(rows: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``rows`` in ``dtype`` (fields it lacks are 0, as an older file's tracking score)."""
    if rows.dtype == dtype:
        return rows
    out = np.zeros(len(rows), dtype)
    for name in dtype.names:
        if name in rows.dtype.names:
            out[name] = rows[name]
    return out

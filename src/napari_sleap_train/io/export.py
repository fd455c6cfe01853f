"""Exporting poses: ``.slp``, SLEAP analysis HDF5 and CSV, each written atomically.

* ``slp``: the labels (videos, skeleton, tracks, suggestions) with the chosen instances,
  through :func:`sleap_io.save_slp` (via :func:`~napari_sleap_train.io.project.save_labels_atomic`).
* ``analysis-h5``: SLEAP's analysis file for one video, written by
  :func:`sleap_io.save_analysis_h5` in SLEAP's (MATLAB) layout: ``tracks``
  ``(n_tracks, 2, n_nodes, n_frames)``, ``track_occupancy`` ``(n_frames, n_tracks)``,
  ``point_scores`` ``(n_tracks, n_nodes, n_frames)``, ``instance_scores`` and
  ``tracking_scores`` ``(n_tracks, n_frames)``, ``node_names``, ``edge_names``,
  ``edge_inds``, ``track_names``, ``labels_path``, ``video_path``, ``video_ind``,
  ``provenance``; frames run from 0 to the end of the video.
* ``csv``: SLEAP's analysis CSV for one video: one row per instance with the columns
  ``track, frame_idx, instance.score`` and ``<node>.x, <node>.y, <node>.score`` for each
  node in skeleton order; missing values are empty.

* ``movement``: a `movement <https://movement.neuroinformatics.dev>`_ poses dataset of one
  video saved as netCDF (``position`` ``(time, space, keypoints, individuals)``,
  ``confidence`` ``(time, keypoints, individuals)``, individuals named by track), made by
  ``movement.io.load_poses.from_numpy`` and read back with ``xarray.open_dataset``; needs
  the ``movement`` package (``pip install "napari-sleap-train[movement]"``).

The analysis file, the CSV and the movement dataset put every instance in a track.
Instances without a track are ranked in their frame (user instances first, then
predictions by descending score) and given pseudo-tracks by rank: ``track_0``,
``track_1``, ... when nothing in the export is tracked, ``untracked_0``, ... beside real
tracks otherwise. Where a frame holds a user instance and the prediction it was made from
(or a prediction of the same track), only the user instance is exported, as SLEAP does.
No napari or Qt here.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import attrs
import numpy as np
import sleap_io as sio

from ..atomic import atomic_path
from ..errors import ExportError

__all__ = [
    "FORMATS",
    "INSTANCES",
    "ExportError",
    "csv_columns",
    "export_analysis_h5",
    "export_csv",
    "export_labels",
    "export_movement",
    "export_slp",
    "select_instances",
    "tracked_instances",
]

FORMATS: tuple[str, ...] = ("slp", "analysis-h5", "csv", "movement")
INSTANCES: tuple[str, ...] = ("all", "user", "predicted")


# ---------------------------------------------------------------------------
# Selecting instances
# ---------------------------------------------------------------------------


def _check_which(which: str) -> str:
    if which not in INSTANCES:
        raise ExportError(f"Unknown instance choice {which!r}; use one of {', '.join(INSTANCES)}.")
    return which


def _pick(lf: sio.LabeledFrame, which: str) -> list[sio.Instance]:
    if which == "user":
        return list(lf.user_instances)
    if which == "predicted":
        return list(lf.predicted_instances)
    return [*lf.user_instances, *lf.predicted_instances]


def _what(which: str) -> str:
    return {"user": "user-labelled", "predicted": "predicted", "all": ""}[which]


def select_instances(labels: sio.Labels, which: str = "all") -> sio.Labels:
    """A new ``Labels`` holding only ``which`` instances (``all``, ``user``, ``predicted``).

    Videos, skeletons, tracks, suggestions and provenance are shared with ``labels``;
    frames left without instances are dropped. ``labels`` is not modified.
    Raises :class:`ExportError` when no instance is left.
    """
    which = _check_which(which)
    frames = []
    for lf in labels.labeled_frames:
        instances = _pick(lf, which)
        if instances:
            frames.append(
                sio.LabeledFrame(video=lf.video, frame_idx=lf.frame_idx, instances=instances)
            )
    if not frames:
        kind = _what(which)
        raise ExportError(
            f"There are no {kind + ' ' if kind else ''}instances to export"
            + (
                " (the file holds no predictions: run predict first, or export all instances)."
                if which == "predicted"
                else "."
            )
        )
    return sio.Labels(
        labeled_frames=frames,
        videos=list(labels.videos),
        skeletons=list(labels.skeletons),
        tracks=list(labels.tracks),
        suggestions=list(labels.suggestions),
        provenance=dict(labels.provenance),
    )


def _score(inst: sio.Instance) -> float:
    score = getattr(inst, "score", None)
    return float(score) if score is not None and math.isfinite(float(score)) else -math.inf


def _frame_instances(lf: sio.LabeledFrame, which: str) -> list[sio.Instance]:
    """The instances of ``lf`` to export, without predictions duplicated by user instances."""
    chosen = _pick(lf, which)
    users = [i for i in chosen if not isinstance(i, sio.PredictedInstance)]
    sources = {id(u.from_predicted) for u in users if u.from_predicted is not None}
    user_tracks = {id(u.track) for u in users if u.track is not None}
    return [
        i
        for i in chosen
        if not isinstance(i, sio.PredictedInstance)
        or (id(i) not in sources and (i.track is None or id(i.track) not in user_tracks))
    ]


def tracked_instances(
    labels: sio.Labels, video: sio.Video | None = None, which: str = "all"
) -> sio.Labels:
    """Instances of one video, each in exactly one track per frame (for analysis exports).

    Returns a new ``Labels`` with ``video`` only (default: the one video that holds
    instances), whose ``tracks`` are the real tracks followed by the pseudo-tracks;
    untracked instances are copies with a pseudo-track (see the module notes).
    ``labels`` is not modified.
    """
    which = _check_which(which)
    video = _export_video(labels, video, which)
    lfs = sorted(
        (lf for lf in labels.labeled_frames if lf.video is video), key=lambda lf: lf.frame_idx
    )
    per_frame = [(lf.frame_idx, _frame_instances(lf, which)) for lf in lfs]
    any_tracked = any(i.track is not None for _, insts in per_frame for i in insts)
    prefix = "untracked" if any_tracked else "track"
    pseudo: list[sio.Track] = []
    frames = []
    for frame_idx, insts in per_frame:
        kept: dict[int, sio.Instance] = {}  # one instance per real track; user overrides
        for inst in insts:
            if inst.track is not None and (
                id(inst.track) not in kept or not isinstance(inst, sio.PredictedInstance)
            ):
                kept[id(inst.track)] = inst
        untracked = [i for i in insts if i.track is None]
        untracked.sort(key=lambda i: (isinstance(i, sio.PredictedInstance), -_score(i)))
        out = list(kept.values())
        for rank, inst in enumerate(untracked):
            while len(pseudo) <= rank:
                pseudo.append(sio.Track(name=f"{prefix}_{len(pseudo)}"))
            out.append(attrs.evolve(inst, track=pseudo[rank]))
        if out:
            frames.append(sio.LabeledFrame(video=video, frame_idx=frame_idx, instances=out))
    pseudo_ids = {id(t) for t in pseudo}
    used = [i.track for lf in frames for i in lf.instances if id(i.track) not in pseudo_ids]
    used_ids = {id(t) for t in used}
    real = [t for t in labels.tracks if id(t) in used_ids]  # the labels' order first
    listed = {id(t) for t in real}
    for track in used:  # then tracks the labels do not list, in order of appearance
        if id(track) not in listed:
            real.append(track)
            listed.add(id(track))
    return sio.Labels(
        labeled_frames=frames,
        videos=[video],
        skeletons=list(labels.skeletons),
        tracks=real + pseudo,
        provenance=dict(labels.provenance),
    )


def _index(labels: sio.Labels, video: sio.Video) -> int:
    return next(i for i, v in enumerate(labels.videos) if v is video)


def _export_video(labels: sio.Labels, video: sio.Video | int | None, which: str) -> sio.Video:
    """The video to export: as given, or the only one that holds ``which`` instances."""
    if isinstance(video, (int, np.integer)) and not isinstance(video, bool):
        if not 0 <= int(video) < len(labels.videos):
            raise ExportError(
                f"Video {video} does not exist: the file has {len(labels.videos)} video(s), "
                f"numbered 0 to {len(labels.videos) - 1}."
            )
        video = labels.videos[int(video)]
    holding = [
        v
        for v in labels.videos
        if any(lf.video is v and _pick(lf, which) for lf in labels.labeled_frames)
    ]
    if video is not None:
        if not any(video is v for v in labels.videos):
            raise ExportError("The video to export is not one of the labels' videos.")
        if not any(video is v for v in holding):
            kind = _what(which)
            raise ExportError(
                f"Video {_index(labels, video)} has no {kind + ' ' if kind else ''}"
                "instances to export."
            )
        return video
    if not holding:
        select_instances(labels, which)  # raises the "nothing to export" error
    if len(holding) > 1:
        inds = ", ".join(str(_index(labels, v)) for v in holding)
        raise ExportError(
            f"Videos {inds} all hold instances and this format holds one video: choose one "
            "(--video N)."
        )
    return holding[0]


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _target(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def export_slp(labels: sio.Labels, path: str | os.PathLike, which: str = "all") -> Path:
    """Save ``which`` instances of ``labels`` as a ``.slp`` (atomically; an old file is kept
    as ``<name>.bak``). Returns the path written."""
    from .project import save_labels_atomic

    selected = select_instances(labels, which)
    target = _target(path)
    save_labels_atomic(selected, target, backup=True, error=ExportError)
    return target


def export_analysis_h5(
    labels: sio.Labels,
    path: str | os.PathLike,
    video: sio.Video | int | None = None,
    which: str = "all",
    labels_path: str | os.PathLike | None = None,
) -> Path:
    """Write SLEAP's analysis HDF5 of one video (see the module notes); returns the path.

    ``labels_path`` is stored as the source file (default: where ``labels`` was loaded
    from, if known).
    """
    tracked = tracked_instances(labels, video, which)
    if not tracked.skeletons:
        raise ExportError("The labels have no skeleton, so there are no nodes to export.")
    source = labels_path if labels_path is not None else labels.provenance.get("filename")
    index = _index(labels, tracked.videos[0])

    target = _target(path)
    with atomic_path(target, error=ExportError) as tmp:
        sio.save_analysis_h5(
            tracked,
            str(tmp),
            video=0,
            labels_path=str(source) if source else None,
            all_frames=True,
        )
        if index:  # the file names the video's index in the source labels, as SLEAP does
            import h5py

            with h5py.File(tmp, "r+") as f:
                del f["video_ind"]
                f.create_dataset("video_ind", data=index)
    return target


def movement_arrays(
    labels: sio.Labels, video: sio.Video | int | None = None, which: str = "all"
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Position ``(time, 2, keypoints, individuals)``, confidence ``(time, keypoints,
    individuals)`` (NaN for user labels and missing nodes), individual and keypoint names
    of one video, frames 0 to the end of the video."""
    tracked = tracked_instances(labels, video, which)
    if not tracked.skeletons:
        raise ExportError("The labels have no skeleton, so there are no nodes to export.")
    nodes = list(tracked.skeletons[0].node_names)
    names = [t.name for t in tracked.tracks]
    slot = {id(t): k for k, t in enumerate(tracked.tracks)}
    last = max((lf.frame_idx for lf in tracked.labeled_frames), default=-1)
    try:
        n_frames = max(int(tracked.videos[0].shape[0]), last + 1)
    except (TypeError, AttributeError, IndexError):
        n_frames = last + 1
    position = np.full((n_frames, 2, len(nodes), len(names)), np.nan)
    confidence = np.full((n_frames, len(nodes), len(names)), np.nan)
    for lf in tracked.labeled_frames:
        for inst in lf.instances:
            k = slot[id(inst.track)]
            position[lf.frame_idx, :, :, k] = inst.numpy().T
            if isinstance(inst, sio.PredictedInstance):
                confidence[lf.frame_idx, :, k] = inst.points["score"]
    return position, confidence, names, nodes


def export_movement(
    labels: sio.Labels,
    path: str | os.PathLike,
    video: sio.Video | int | None = None,
    which: str = "all",
    fps: float | None = None,
) -> Path:
    """Write one video's poses as a movement dataset in netCDF (see the module notes)."""
    try:
        from movement.io import load_poses
    except ImportError:
        raise ExportError(
            "The movement format needs the movement package: pip install "
            '"napari-sleap-train[movement]" (or pip install movement).'
        ) from None
    position, confidence, names, nodes = movement_arrays(labels, video, which)
    ds = load_poses.from_numpy(
        position,
        confidence,
        individual_names=names,
        keypoint_names=nodes,
        fps=fps,
        source_software="napari-sleap-train",
    )
    target = _target(path)
    with atomic_path(target, error=ExportError) as tmp:
        ds.to_netcdf(tmp)
    return target


def csv_columns(node_names: list[str]) -> list[str]:
    """The CSV header: ``track, frame_idx, instance.score``, then per node x, y, score."""
    cols = ["track", "frame_idx", "instance.score"]
    for name in node_names:
        cols += [f"{name}.x", f"{name}.y", f"{name}.score"]
    return cols


def _num(value) -> str:
    if value is None:
        return ""
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def export_csv(
    labels: sio.Labels,
    path: str | os.PathLike,
    video: sio.Video | int | None = None,
    which: str = "all",
) -> Path:
    """Write SLEAP's analysis CSV of one video (see the module notes); returns the path.

    Rows are sorted by frame, then by track (real tracks in the labels' order, then the
    pseudo-tracks by rank).
    """
    tracked = tracked_instances(labels, video, which)
    if not tracked.skeletons:
        raise ExportError("The labels have no skeleton, so there are no nodes to export.")
    node_names = list(tracked.skeletons[0].node_names)
    order = {id(t): i for i, t in enumerate(tracked.tracks)}

    target = _target(path)
    with (
        atomic_path(target, error=ExportError) as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as f,
    ):
        writer = csv.writer(f)
        writer.writerow(csv_columns(node_names))
        for lf in tracked.labeled_frames:
            for inst in sorted(lf.instances, key=lambda i: order[id(i.track)]):
                predicted = isinstance(inst, sio.PredictedInstance)
                xy = inst.numpy()
                scores = (
                    np.asarray(inst.points["score"], dtype=np.float64)
                    if predicted
                    else np.full(len(node_names), np.nan)
                )
                row = [inst.track.name, lf.frame_idx, _num(inst.score if predicted else None)]
                for k in range(len(node_names)):
                    row += [_num(xy[k, 0]), _num(xy[k, 1]), _num(scores[k])]
                writer.writerow(row)
    return target


def export_labels(
    labels: sio.Labels,
    path: str | os.PathLike,
    format: str = "slp",
    which: str = "all",
    video: sio.Video | int | None = None,
    labels_path: str | os.PathLike | None = None,
    fps: float | None = None,
) -> Path:
    """Export in ``format`` (``slp``, ``analysis-h5``, ``csv`` or ``movement``); returns
    the path written.

    ``video`` is used by the one-video formats (``analysis-h5``, ``csv``, ``movement``);
    ``fps`` gives a movement dataset its time in seconds (else in frames).
    """
    fmt = str(format).strip().lower().replace("_", "-")
    if fmt in ("h5", "analysis", "analysis.h5"):
        fmt = "analysis-h5"
    if fmt == "slp":
        return export_slp(labels, path, which)
    if fmt == "analysis-h5":
        return export_analysis_h5(labels, path, video, which, labels_path)
    if fmt == "csv":
        return export_csv(labels, path, video, which)
    if fmt in ("movement", "netcdf", "nc"):
        return export_movement(labels, path, video, which, fps)
    raise ExportError(f"Unknown export format {format!r}; use one of {', '.join(FORMATS)}.")

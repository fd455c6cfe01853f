"""Poses for new and repaired points: the mean labelled pose, templates for new
instances, their rows, and the repair of points placed without a node.

numpy and pandas only; tables are :class:`~.points_table.PointsTable` data and features.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..layers.points_table import PointsTable, frames_of, normalise_features


def circle_layout(n: int, radius: float) -> np.ndarray:
    """``n`` points ``(y, x)`` on a circle around 0, the first at the top, clockwise."""
    angles = -np.pi / 2 + 2 * np.pi * np.arange(n) / max(n, 1)
    return radius * np.stack([np.sin(angles), np.cos(angles)], axis=1)


def _align(pose: np.ndarray, ref: np.ndarray) -> np.ndarray | None:
    """``pose`` rotated and moved onto ``ref`` over the nodes they share (no reflection,
    no scaling); None with fewer than two shared nodes."""
    common = np.isfinite(pose).all(axis=1) & np.isfinite(ref).all(axis=1)
    if common.sum() < 2:
        return None
    a_mean, b_mean = pose[common].mean(axis=0), ref[common].mean(axis=0)
    a, b = pose[common] - a_mean, ref[common] - b_mean
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag([1.0, d]) @ vt
    return (pose - a_mean) @ rot + b_mean


def mean_pose(poses: np.ndarray) -> np.ndarray:
    """The mean labelled pose ``(N, 2)`` around its centre, NaN for nodes never labelled.

    Instances (the complete ones when there are any) are rotated onto each other first
    (Procrustes, no reflection), so animals facing different ways do not average away.
    """
    n_nodes = poses.shape[1] if poses.ndim == 3 else 0
    present = np.isfinite(poses).all(axis=2) if len(poses) else np.zeros((0, n_nodes), bool)
    use = poses[present.sum(axis=1) >= 2] if len(poses) else poses
    if not len(use):
        return np.full((n_nodes, 2), np.nan)
    complete = np.isfinite(use).all(axis=(1, 2))
    if complete.any():
        use = use[complete]
    ref = use[int(np.isfinite(use).all(axis=2).sum(axis=1).argmax())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(3):
            aligned = [a for a in (_align(p, ref) for p in use) if a is not None]
            mean = np.nanmean(np.stack(aligned), axis=0)
            ref = np.where(np.isfinite(mean), mean, ref)
    return mean - np.nanmean(mean, axis=0)


def typical_radius(poses: np.ndarray, default: float) -> float:
    """Half the median size of the labelled instances (``default`` without any)."""
    sizes = []
    for pose in poses:
        present = pose[np.isfinite(pose).all(axis=1)]
        if len(present) > 1:
            sizes.append(float(np.ptp(present, axis=0).max()) / 2)
    return float(np.median(sizes)) if sizes and np.median(sizes) > 0 else float(default)


def pose_template(poses: np.ndarray, n_nodes: int, radius: float) -> np.ndarray:
    """The pose a new instance starts from ``(N, 2)`` yx around 0: the mean labelled pose,
    with nodes never labelled (all of them for a new skeleton) spread on a circle."""
    circle = circle_layout(n_nodes, radius)
    if not len(poses):
        return circle
    mean = mean_pose(poses)
    missing = ~np.isfinite(mean).all(axis=1)
    if missing.all():
        return circle
    mean[missing] = circle[missing]
    return mean - mean.mean(axis=0)


def fit_template(template: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """``template`` moved onto the present nodes of ``pose`` (a translation)."""
    present = np.isfinite(pose).all(axis=1) & np.isfinite(template).all(axis=1)
    if not present.any():
        return template + np.nanmean(pose, axis=0)
    return template + (pose[present] - template[present]).mean(axis=0)


def append_rows(
    data: np.ndarray, features: pd.DataFrame, new_data: np.ndarray, new: dict, nodes
) -> tuple[np.ndarray, pd.DataFrame]:
    """``data``/``features`` with rows added (``new`` maps columns to values)."""
    extra = pd.DataFrame(new)
    both = pd.concat(
        [features.astype({"keypoint": object, "individual": object}), extra], ignore_index=True
    )
    return np.concatenate([np.asarray(data).reshape(-1, 3), new_data]), normalise_features(
        both, nodes
    )


def instance_rows(
    frame: int,
    pose: np.ndarray,
    nodes: Sequence[str],
    instance: int,
    track: str = "",
    visible: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Rows of one instance (its present nodes) for :func:`append_rows`."""
    keep = np.isfinite(pose).all(axis=1)
    vis = np.ones(len(nodes), bool) if visible is None else np.asarray(visible, bool)
    n = int(keep.sum())
    data = np.column_stack([np.full(n, float(frame)), pose[keep]])
    name = track or f"instance {instance}"
    cols = {
        "individual": [name] * n,
        "keypoint": [nodes[i] for i in np.flatnonzero(keep)],
        "confidence": [np.nan] * n,
        "instance": [instance] * n,
        "track": [track] * n,
        "visible": list(vis[keep]),
        "score": [np.nan] * n,
    }
    return data, cols


@dataclass
class Repair:
    """What :func:`repair_points` did: the features, what it changed, what it could not."""

    features: pd.DataFrame
    fixed: list[str] = field(default_factory=list)
    unresolved: list[int] = field(default_factory=list)


def point_text(data: np.ndarray, row: int) -> str:
    """Where a point is, in words (for messages)."""
    f, y, x = np.asarray(data)[row]
    return f"frame {int(round(f))} at x={x:.0f}, y={y:.0f}"


def repair_points(
    data: np.ndarray,
    features: pd.DataFrame,
    nodes: Sequence[str],
    template: np.ndarray,
    rows: Sequence[int] | None = None,
) -> Repair:
    """Give points a node they can have, as if they had been placed by hand.

    ``rows`` are the points to check (default: those :meth:`PointsTable.problem_rows`
    finds). Points of one instance that cannot join it (it is not on their frame, or
    already has their nodes: a pasted instance) become a new instance when there are
    several with distinct nodes.
    Any other point is given the missing node of an instance
    on its frame nearest to it: of the instance it names when that one is on the frame and
    lacks nodes, else of the nearest such instance; the node is the one it names when
    missing there, else the missing node whose place (``template`` fitted on the instance)
    is nearest. A point with no instance to join keeps no node (``keypoint`` NaN) and a new
    instance id of its own, and is listed in ``unresolved``.
    """
    data = np.asarray(data, float).reshape(-1, 3)
    feats = normalise_features(features, nodes)
    if rows is None:
        rows = PointsTable(data, feats, tuple(nodes)).problem_rows()
    rows = sorted({int(r) % len(data) for r in rows}) if len(data) else []
    out = Repair(feats)
    if not rows:
        return out
    node_set, node_idx = set(nodes), {n: i for i, n in enumerate(nodes)}
    frame = frames_of(data)
    kp = feats["keypoint"].astype(object).to_numpy().copy()
    inst = feats["instance"].to_numpy(int).copy()
    track = feats["track"].to_numpy(object).copy()
    individual = feats["individual"].astype(object).to_numpy().copy()
    visible = feats["visible"].to_numpy(bool).copy()
    candidates = set(rows)
    base_keys: set = set()
    members: dict[tuple[int, int], list[int]] = {}
    for r in range(len(data)):
        if r in candidates:
            continue
        members.setdefault((frame[r], inst[r]), []).append(r)
        if kp[r] in node_set:
            base_keys.add((frame[r], inst[r], kp[r]))
    next_id = int(inst.max()) + 1 if len(inst) else 0

    def accept(r: int) -> None:
        members.setdefault((frame[r], inst[r]), []).append(r)
        base_keys.add((frame[r], inst[r], kp[r]))

    groups: dict[tuple[int, int], list[int]] = {}
    for r in rows:
        groups.setdefault((frame[r], inst[r]), []).append(r)
    singles = []

    def distinct(rows_: list[int]) -> bool:
        names = [kp[r] for r in rows_]
        return all(k in node_set for k in names) and len(set(names)) == len(names)

    for (f, i), group in groups.items():
        copies = group
        if (f, i) in members:
            copies = []
            for r in group:
                if kp[r] in node_set and (f, i, kp[r]) not in base_keys:
                    accept(r)
                else:
                    copies.append(r)
        if len(copies) > 1 and distinct(copies):  # a pasted (part of an) instance
            for r in copies:
                inst[r], track[r], individual[r] = next_id, "", f"instance {next_id}"
                accept(r)
            out.fixed.append(
                f"{len(copies)} points on {point_text(data, copies[0])} became "
                f"a new instance ({next_id})."
            )
            next_id += 1
        else:
            singles.extend(copies)

    for r in sorted(singles):
        f, yx = frame[r], data[r, 1:3]
        targets = []
        for (tf, ti), members_rows in members.items():
            if tf != f:
                continue
            present = {kp[m] for m in members_rows if kp[m] in node_set}
            if len(present) < len(nodes):
                pts = data[members_rows, 1:3]
                targets.append((float(np.linalg.norm(pts - yx, axis=1).min()), ti, present))
        if not targets:
            kp[r] = np.nan
            inst[r], track[r], individual[r] = next_id, "", f"instance {next_id}"
            next_id += 1
            out.unresolved.append(r)
            continue
        claimed = [t for t in targets if t[1] == inst[r]]
        _, ti, present = claimed[0] if claimed else min(targets, key=lambda t: t[0])
        missing = [n for n in nodes if n not in present]
        if kp[r] in missing:
            node = kp[r]
        else:
            pose = np.full((len(nodes), 2), np.nan)
            for m in members[(f, ti)]:
                if kp[m] in node_set:
                    pose[node_idx[kp[m]]] = data[m, 1:3]
            placed = fit_template(template, pose)
            spots = np.array([placed[node_idx[n]] for n in missing])
            node = missing[int(np.linalg.norm(spots - yx, axis=1).argmin())]
        first = members[(f, ti)][0]
        kp[r], inst[r], track[r], individual[r] = node, ti, track[first], individual[first]
        visible[r] = True
        accept(r)
        out.fixed.append(f"The point on {point_text(data, r)} became {node!r} of instance {ti}.")

    feats = feats.copy()
    feats["keypoint"] = pd.Categorical(kp, categories=list(nodes))
    feats["instance"] = inst
    feats["track"] = track.astype(str)
    feats["individual"] = individual
    feats["visible"] = visible
    feats.loc[list(rows), ["confidence", "score"]] = np.nan
    out.features = normalise_features(feats, nodes)
    return out


@dataclass
class Accepted:
    """User-instance rows made from predicted instances (see :func:`accept_predictions`)."""

    data: np.ndarray
    columns: dict[str, list]
    instances: int
    skipped: int
    frames: set[int]


def accept_predictions(
    predictions: PointsTable,
    labels: PointsTable,
    wanted: set[tuple[int, int]],
    next_id: int,
) -> Accepted:
    """Rows of new user instances copied from the ``wanted`` predicted instances (their
    (frame, instance) keys), with their nodes' visibility and track, numbered from
    ``next_id``. A prediction that a user instance of its frame already covers (same
    track, or overlapping: :func:`~napari_sleap_train.io.project.instances_overlap`) is
    skipped."""
    from ...io.project import instances_overlap

    nodes = list(labels.nodes)
    found, users = predictions.instances, labels.instances
    poses, user_poses = predictions.poses(), labels.poses()
    visible = found.per_node(predictions.features["visible"].to_numpy(float), fill=1) > 0.5
    user_tracks = [labels.features["track"].iloc[rows[0]] for rows in users.rows]
    pred_tracks = predictions.features["track"]
    data, columns, skipped, frames = [], {}, 0, set()
    for m, (key, rows) in enumerate(zip(found.keys, found.rows)):
        if (int(key[0]), int(key[1])) not in wanted:
            continue
        frame, track = int(key[0]), str(pred_tracks.iloc[rows[0]])
        covered = any(
            uk[0] == frame and ((track and ut == track) or instances_overlap(up, poses[m]))
            for uk, up, ut in zip(users.keys, user_poses, user_tracks)
        )
        if covered:
            skipped += 1
            continue
        rows_data, cols = instance_rows(frame, poses[m], nodes, next_id, track, visible[m])
        data.append(rows_data)
        for k, v in cols.items():
            columns.setdefault(k, []).extend(v)
        frames.add(frame)
        next_id += 1
    stacked = np.concatenate(data) if data else np.zeros((0, 3))
    return Accepted(stacked, columns, len(data), skipped, frames)

"""Checking labels: user instances that are likely mistakes, scored against the project's
own labelled poses (no configuration).

Every labelled instance is fitted to the project's typical pose (a robust mean of all of
them after removing position, rotation and size: generalised Procrustes with missing
nodes). Measured in units of the usual spread of each quantity over the project's
instances (robust z-scores):

- **left/right swapped**: exchanging the skeleton's left/right pairs (its symmetries, or
  pairs found by name: ``left_ear``/``right_ear``, ``wingL``/``wingR``) fits the typical
  pose :data:`SWAP_GAIN` times better;
- **off the pose**: a node far from where the rest of the instance puts it;
- **edge length and angle**: an edge much longer or shorter than usual, or turned far
  from its usual direction in the pose;
- **on one spot**: two nodes that are usually apart drawn on one spot;
- **duplicate**: two instances of one frame on the same spot;
- **size**: an instance much larger or smaller than the others.

An instance's score is its largest z; it is flagged at :data:`THRESHOLD`.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

THRESHOLD = 6.0
MIN_INSTANCES = 5
SAME_SPOT = 0.05  # of the instance's size: two instances on one spot
SWAP_GAIN = 1.25  # exchanged sides that fit this much better are a swap
ONE_SPOT_PX = 1.0  # two nodes closer than this (px) are drawn on one spot
MIN_SPREAD = 0.02  # of the instance's size: the least spread a quantity is given


@dataclass
class Flag:
    """A user instance that may be wrong: where it is, why, and how far out (z)."""

    video: int
    frame: int
    instance: int
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    def to_dict(self) -> dict:
        return {
            "video": self.video,
            "frame": self.frame,
            "instance": self.instance,
            "reasons": self.reasons,
            "score": round(self.score, 2),
        }


def side_pairs(names: Sequence[str], symmetries: Sequence[tuple[int, int]] = ()) -> list:
    """Left/right node pairs: the skeleton's symmetries, else pairs found by name."""
    if symmetries:
        return sorted({tuple(sorted(p)) for p in symmetries})
    index = {n: i for i, n in enumerate(names)}
    bare: dict[str, list[int]] = {}  # names without digits: paw1LH and paw4RH are a pair
    for n, i in index.items():
        bare.setdefault(re.sub(r"\d", "", n), []).append(i)
    pairs = set()
    for name, i in index.items():
        for other in _mirrored(name):
            j = index.get(other)
            if j is None:
                found = bare.get(re.sub(r"\d", "", other), [])
                j = found[0] if len(found) == 1 else None
            if j is not None and j != i:
                pairs.add(tuple(sorted((i, j))))
    return sorted(pairs)


def _mirrored(name: str) -> list[str]:
    """Names the right-hand twin of ``name`` may have."""
    out = []
    for left, right in (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT")):
        if left in name:
            out.append(name.replace(left, right))
    for m in re.finditer(r"(?<![a-z])l(?![a-z])|L(?![a-z])", name):
        a, b = m.span()
        out.append(name[:a] + ("R" if name[a] == "L" else "r") + name[b:])
    return out


def _fit(points: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each instance ``(M, N, 2)`` moved, turned and scaled onto ``ref`` ``(N, 2)`` over
    their common visible nodes; returns the fitted points and each instance's scale."""
    seen = np.isfinite(points).all(-1) & np.isfinite(ref).all(-1)
    w = seen.astype(float)[..., None]
    count = np.maximum(w.sum(1), 1)
    p = np.nan_to_num(points)
    r = np.nan_to_num(ref)[None]
    pc = (p * w).sum(1) / count
    rc = (r * w).sum(1) / count
    a, b = (p - pc[:, None]) * w, (r - rc[:, None]) * w
    h = np.einsum("mni,mnj->mij", a, b)
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(points), 2))
    fix[:, 1] = d
    rot = u @ (fix[:, :, None] * vt)
    var = (a**2).sum((1, 2))
    scale = (s * fix).sum(1) / np.maximum(var, 1e-12)
    fitted = scale[:, None, None] * np.einsum("mni,mij->mnj", p - pc[:, None], rot) + rc[:, None]
    size = np.sqrt(np.maximum(var, 1e-12) / np.maximum(w.sum((1, 2)), 1))
    fitted[~np.isfinite(points).all(-1)] = np.nan
    return fitted, size


def typical_pose(points: np.ndarray, rounds: int = 5) -> np.ndarray:
    """The robust mean pose of instances ``(M, N, 2)`` after fitting them to each other."""
    start = int(np.argmax(np.isfinite(points).all(-1).sum(1)))
    ref = points[start] - np.nanmean(points[start], 0)
    ref = ref / max(np.sqrt(np.nanmean((ref**2).sum(-1))), 1e-9)
    for _ in range(rounds):
        fitted, _ = _fit(points, ref)
        new = np.nanmedian(fitted, axis=0)
        new = new - np.nanmean(new, 0)
        ref = new / max(np.sqrt(np.nanmean((new**2).sum(-1))), 1e-9)
    return ref


def _robust_z(values: np.ndarray, floor: float, axis: int = 0) -> np.ndarray:
    """How many usual spreads each value lies from the median (NaN stays NaN). The spread
    is read from the 5th to the 95th percentile, so a pose a fifth of the animals take (a
    wing held out) is usual, and a node a body length away is not."""
    med = np.nanmedian(values, axis=axis, keepdims=True)
    lo, hi = np.nanpercentile(values, [5, 95], axis=axis, keepdims=True)
    return (values - med) / np.maximum((hi - lo) / 3.29, floor)


@dataclass
class LabelledInstances:
    """User instances ``points`` ``(M, N, 2)`` and where each is: ``(video, frame, index
    within the frame)``."""

    points: np.ndarray
    where: list[tuple[int, int, int]]


def check_labels(
    instances: LabelledInstances,
    node_names: Sequence[str],
    edges: Sequence[tuple[int, int]] = (),
    symmetries: Sequence[tuple[int, int]] = (),
    threshold: float = THRESHOLD,
) -> list[Flag]:
    """The instances that look wrong, most suspicious first (see the module's text)."""
    pts = np.asarray(instances.points, dtype=float)
    if len(pts) < MIN_INSTANCES or pts.shape[1] < 2:
        return []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # nodes no instance shows
        return _flags(instances, pts, list(node_names), edges, symmetries, threshold)


def _flags(instances, pts, names, edges, symmetries, threshold) -> list[Flag]:
    ref = typical_pose(pts)
    fitted, size = _fit(pts, ref)
    err = np.linalg.norm(fitted - ref, axis=-1)  # (M, N) in units of the typical pose
    z_node = _robust_z(err, MIN_SPREAD)
    reasons: list[list[tuple[float, str]]] = [[] for _ in pts]

    def note(mask, z, text_of):
        for m in np.flatnonzero(mask):
            reasons[m].append((float(z[m]), text_of(m)))

    pairs = side_pairs(names, symmetries)
    if pairs:
        swapped = pts.copy()
        for a, b in pairs:
            swapped[:, [a, b]] = pts[:, [b, a]]
        fitted_s, _ = _fit(swapped, ref)
        err_s = np.linalg.norm(fitted_s - ref, axis=-1)
        sided = np.array([i for p in pairs for i in p])
        before, after = np.nanmean(err[:, sided], 1), np.nanmean(err_s[:, sided], 1)
        better = before / np.maximum(after, 1e-9)  # > 1: the exchanged sides fit better
        note(better > SWAP_GAIN, threshold * better / SWAP_GAIN, lambda m: "left/right swapped")
    worst = np.nanargmax(np.where(np.isfinite(z_node), z_node, -np.inf), axis=1)
    z_worst = z_node[np.arange(len(pts)), worst]
    note(z_worst > threshold, z_worst, lambda m: f"{names[worst[m]]} is off the pose")
    for a, b in edges:
        length = np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) / size
        z = np.abs(_robust_z(np.log(length + 1e-9), 0.02))
        note(z > threshold, z, lambda m, a=a, b=b: f"edge {names[a]}-{names[b]} length")
        v = fitted[:, b] - fitted[:, a]  # the edge's direction in the typical pose's frame
        angle = np.arctan2(v[:, 1], v[:, 0])
        usual = np.angle(np.nansum(np.exp(1j * np.nan_to_num(angle)) * np.isfinite(angle)))
        turn = np.abs(np.angle(np.exp(1j * (angle - usual))))  # 0 to pi
        z = _robust_z(turn, np.radians(2))
        note(z > threshold, z, lambda m, a=a, b=b: f"edge {names[a]}-{names[b]} angle")
    dist = np.linalg.norm(pts[:, :, None] - pts[:, None], axis=-1) / size[:, None, None]
    usual = np.nanmedian(dist, axis=0)
    close = (dist * size[:, None, None] < ONE_SPOT_PX) & (usual > 4 * SAME_SPOT)[None]
    close &= np.triu(np.ones_like(usual, dtype=bool), 1)[None]
    for m in np.flatnonzero(close.any((1, 2))):
        a, b = np.argwhere(close[m])[0]
        reasons[m].append((threshold + 1, f"{names[a]} and {names[b]} on one spot"))
    z_size = np.abs(_robust_z(np.log(size), 0.02))
    note(z_size > threshold, z_size, lambda m: "much larger or smaller than the others")
    _duplicates(instances, pts, size, reasons, threshold)
    flags = []
    for m, found in enumerate(reasons):
        if found:
            v, f, i = instances.where[m]
            flags.append(Flag(v, f, i, [t for _, t in found], max(z for z, _ in found)))
    return sorted(flags, key=lambda fl: -fl.score)


def _duplicates(instances, pts, size, reasons, threshold) -> None:
    """Instances of one frame on the same spot: the second is flagged."""
    by_frame: dict[tuple[int, int], list[int]] = {}
    for m, (v, f, _) in enumerate(instances.where):
        by_frame.setdefault((v, f), []).append(m)
    for rows in by_frame.values():
        for k, m in enumerate(rows):
            for other in rows[:k]:
                d = np.nanmean(np.linalg.norm(pts[m] - pts[other], axis=-1))
                if d < SAME_SPOT * size[m] * 2:
                    i = instances.where[other][2]
                    reasons[m].append((threshold + 2, f"duplicate of instance {i}"))
                    break


CHECKED_KEY = "napari_sleap_train.checked"
"""The project's provenance entry listing the instances marked as correct."""


def fingerprint(video: int, frame: int, xy: np.ndarray) -> str:
    """What identifies a user instance as it is: editing it makes it a new one, which is
    checked again."""
    rounded = np.nan_to_num(np.round(np.asarray(xy, dtype=float), 1), nan=-1.0)
    digest = hashlib.sha1(rounded.tobytes()).hexdigest()[:12]
    return f"{video}:{frame}:{digest}"


def project_instances(project) -> LabelledInstances:
    """The user instances of a :class:`~napari_sleap_train.io.project.Project`."""
    order = {id(v): i for i, v in enumerate(project.videos)}
    rows, where = [], []
    for lf in project.user_frames():
        for k, inst in enumerate(lf.user_instances):
            rows.append(inst.numpy())
            where.append((order.get(id(lf.video), 0), int(lf.frame_idx), k))
    n = len(project.node_names)
    pts = np.stack(rows).astype(float) if rows else np.zeros((0, n, 2))
    return LabelledInstances(pts, where)


def check_project(project, threshold: float = THRESHOLD) -> list[Flag]:
    """The flags of a project's user instances, less those marked as correct."""
    instances = project_instances(project)
    skeleton = project.skeleton
    flags = check_labels(
        instances, project.node_names, project.edge_inds, skeleton.symmetry_inds, threshold
    )
    checked = set(project.header.provenance.get(CHECKED_KEY, []))
    row = {w: r for r, w in enumerate(instances.where)}
    out = []
    for f in flags:
        xy = instances.points[row[(f.video, f.frame, f.instance)]]
        if fingerprint(f.video, f.frame, xy) not in checked:
            out.append(f)
    return out


def mark_correct(project, flag: Flag, into=None) -> None:
    """Silence ``flag``: its instance, as it is in ``project`` now, is recorded as correct
    in the provenance of ``into`` (default: ``project``), which a save keeps."""
    instances = project_instances(project)
    row = {w: r for r, w in enumerate(instances.where)}[(flag.video, flag.frame, flag.instance)]
    mark = fingerprint(flag.video, flag.frame, instances.points[row])
    provenance = (into or project).header.provenance
    provenance[CHECKED_KEY] = sorted({*provenance.get(CHECKED_KEY, []), mark})

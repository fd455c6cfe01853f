"""Video adaptation: pseudo-labels from the whole video, for a second round of training.

After a first training, frames sampled evenly across every video of the project (not the
labelled ones) are predicted as they are, rotated both ways by the rotation the models
learnt, and together with the frames just before and after. A body part is kept as a
pseudo-label where the rotated predictions put it within a tolerance read from the labels
(5 % of the typical animal's size) and the neighbouring frames within the motion the labels
allow; an animal is kept with at least half of its body parts so. The other body parts are
*unsure*: the losses leave them out. On a frame where some animal found was not kept, the
models that see whole frames learn only near the kept animals (elsewhere they would learn
that a missed animal is background). The pseudo-labels are written to the run folder,
never into the user's labels.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import sleap_io as sio
import torch

from ..data.geometry import instance_anchors, instance_bbox_sides
from ..data.labelled import LabelledData
from ..errors import SleapTrainError
from ..io.project import Project, save_labels_atomic
from ..io.video import LazyVideo

TOLERANCE_SHARE = 0.05
MIN_TOLERANCE_PX = 2.0
MIN_KEPT = 0.5


@dataclass
class PseudoLabels:
    """Pseudo-labelled frames: ``points`` ``(M, N, 2)`` per frame (NaN: unsure or not
    there), ``unsure`` ``(M, N)``, and whether every animal of the frame was kept."""

    frame_ids: list[tuple[int, int]] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)
    unsure: list[np.ndarray] = field(default_factory=list)
    complete: list[bool] = field(default_factory=list)
    tried: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """One line saying what was kept."""
        n_inst = sum(len(p) for p in self.points)
        return (
            f"Pseudo-labels: {len(self.points)} of {self.tried} frames sampled across the "
            f"videos, {n_inst} animals ({sum(self.complete)} frames with every animal kept; "
            f"{self.seconds:.0f} s)."
        )


def tolerances(data: LabelledData) -> tuple[float, float]:
    """How far a body part may move under rotation (px) and from one frame to the next:
    5 % of the typical labelled animal's size, and the largest step of a body part
    between consecutive labelled frames (where there are any; else three tolerances)."""
    sides = instance_bbox_sides(data.instances_array())
    sides = sides[np.isfinite(sides) & (sides > 0)]
    tol = max(MIN_TOLERANCE_PX, TOLERANCE_SHARE * float(np.median(sides)) if len(sides) else 0)
    steps = []
    index = {fid: row for row, fid in enumerate(data.frame_ids[: data.n_labelled])}
    for (v, f), row in index.items():
        nxt = index.get((v, f + 1))
        if nxt is None:
            continue
        a, b = data.points[row].numpy(), data.points[nxt].numpy()
        for inst in a:
            if not np.isfinite(inst).any():
                continue
            d = np.linalg.norm(b - inst, axis=-1)  # (M, N)
            with np.errstate(all="ignore"):
                k = int(np.nanargmin(np.nanmean(d, 1))) if np.isfinite(d).any() else None
            if k is not None:
                steps.extend(d[k][np.isfinite(d[k])].tolist())
    motion = float(np.percentile(steps, 99)) if len(steps) >= 20 else 3 * tol
    return tol, max(motion, tol)


def sample_frames(project: Project, n: int) -> tuple[list[tuple[int, int, LazyVideo]], list[str]]:
    """Up to ``n`` unlabelled frames spread evenly over every readable video (in
    proportion to their lengths), and a note for each video that cannot be read."""
    labelled = {(id(lf.video), lf.frame_idx) for lf in project.user_frames()}
    videos, notes = [], []
    for v, video in enumerate(project.videos):
        try:
            lazy = LazyVideo(video)
            length = len(lazy)
        except (SleapTrainError, OSError, ValueError) as exc:
            notes.append(f"Video {v} is skipped for pseudo-labels: {exc}")
            continue
        if length < 3:
            notes.append(f"Video {v} has {length} frame(s): too short for pseudo-labels.")
            lazy.close()
            continue
        videos.append((v, video, lazy, length))
    total = sum(length for *_, length in videos)
    out = []
    for v, video, lazy, length in videos:
        k = min(max(1, round(n * length / total)), length - 2)
        for f in sorted({int(f) for f in np.linspace(1, length - 2, k)}):
            if (id(video), f) not in labelled:
                out.append((v, f, lazy))
    return out, notes


def _rotation(hw: tuple[int, int], degrees: float) -> np.ndarray:
    h, w = hw
    return cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)


def _unrotate(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points predicted on a rotated frame, in the frame's own coordinates."""
    inv = cv2.invertAffineTransform(matrix)
    return points @ inv[:, :2].T + inv[:, 2]


def _nearest(inst: np.ndarray, others: np.ndarray) -> np.ndarray | None:
    """The instance of ``others`` ``(K, N, 2)`` nearest ``inst`` ``(N, 2)`` on average."""
    if not len(others):
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # no body part in common
        d = np.nanmean(np.linalg.norm(others - inst, axis=-1), axis=1)
    if not np.isfinite(d).any():
        return None
    return others[int(np.nanargmin(d))]


def agreement(
    base: np.ndarray, checks: list[tuple[np.ndarray, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per animal of ``base`` ``(M, N, 2)``, the body parts that every check (the instances
    of another prediction, and how far they may lie) puts within its distance: the kept
    points (NaN elsewhere) and the unsure mask."""
    kept = np.isfinite(base).all(-1)
    for others, limit in checks:
        for m, inst in enumerate(base):
            match = _nearest(inst, others)
            if match is None:
                kept[m] = False
                continue
            with np.errstate(invalid="ignore"):
                kept[m] &= np.linalg.norm(match - inst, axis=-1) <= limit
    points = np.where(kept[..., None], base, np.nan)
    return points, ~kept


def pseudo_label(
    predictor,
    project: Project,
    data: LabelledData,
    n_frames: int,
    rotation_deg: float,
    progress: Callable[[int, int], None] | None = None,
) -> PseudoLabels:
    """Pseudo-labels of up to ``n_frames`` unlabelled frames (see the module's text)."""
    t0 = time.perf_counter()
    tol, motion = tolerances(data)
    picks, notes = sample_frames(project, n_frames)
    out = PseudoLabels(notes=notes)
    angle = min(abs(rotation_deg), 90.0) or 10.0
    try:
        for i, (v, f, lazy) in enumerate(picks):
            try:
                image = lazy.frame(f)
                before, after = lazy.frame(f - 1), lazy.frame(f + 1)
            except (IndexError, OSError, SleapTrainError):
                continue
            hw = image.shape[:2]
            turns = [_rotation(hw, a) for a in (angle, -angle)]
            rotated = [cv2.warpAffine(image, m, hw[::-1]).reshape(image.shape) for m in turns]
            preds = predictor.predict_batch(np.stack([image, *rotated, before, after]))
            out.tried += 1
            base = preds[0].points
            if not len(base):
                continue
            checks = [(_unrotate(p.points, m), tol) for p, m in zip(preds[1:3], turns, strict=True)]
            checks += [(p.points, motion) for p in preds[3:]]
            points, unsure = agreement(base, checks)
            keep = (~unsure).sum(1) >= MIN_KEPT * np.isfinite(base).all(-1).sum(1).clip(1)
            keep &= (~unsure).sum(1) >= 2
            if keep.any():
                out.frame_ids.append((v, f))
                out.images.append(image)
                out.points.append(points[keep])
                out.unsure.append(unsure[keep])
                out.complete.append(bool(keep.all()))
            if progress is not None:
                progress(i + 1, len(picks))
    finally:
        for lazy in {id(x[2]): x[2] for x in picks}.values():
            lazy.close()
    out.seconds = time.perf_counter() - t0
    return out


def with_pseudo_labels(data: LabelledData, pseudo: PseudoLabels) -> LabelledData:
    """``data`` with the pseudo-labelled frames after the user's rows."""
    if not pseudo.points:
        return data
    n, c, h, w = data.frames.shape
    m = max(data.points.shape[1], *(len(p) for p in pseudo.points))
    nodes = data.points.shape[2]
    k = len(pseudo.points)
    frames = torch.zeros((n + k, c, h, w), dtype=torch.uint8)
    frames[:n] = data.frames
    for i, img in enumerate(pseudo.images):
        t = torch.from_numpy(np.ascontiguousarray(img[:h, :w])).permute(2, 0, 1)
        if t.shape[0] != c:  # a video of other channels than the labelled frames'
            t = t.float().mean(0, keepdim=True).round().to(torch.uint8)
        frames[n + i, :, : t.shape[1], : t.shape[2]] = t.expand(c, -1, -1)
    points = torch.full((n + k, m, nodes, 2), float("nan"))
    points[:n, : data.points.shape[1]] = data.points
    unsure = torch.zeros((n + k, m, nodes), dtype=torch.bool)
    if data.unsure is not None:
        unsure[:n, : data.unsure.shape[1]] = data.unsure
    for i, (p, u) in enumerate(zip(pseudo.points, pseudo.unsure, strict=True)):
        points[n + i, : len(p)] = torch.from_numpy(p).float()
        unsure[n + i, : len(u)] = torch.from_numpy(u)
    tracks = torch.full((n + k, m), -1, dtype=torch.long)
    if data.tracks is not None:
        tracks[:n, : data.tracks.shape[1]] = data.tracks
    complete = torch.ones(n + k, dtype=torch.bool)
    complete[n:] = torch.as_tensor(pseudo.complete)
    anchors = torch.from_numpy(instance_anchors(points.numpy(), data.anchor_index)).float()
    return dataclasses.replace(
        data,
        frames=frames,
        points=points,
        anchors=anchors,
        frame_ids=[*data.frame_ids, *pseudo.frame_ids],
        tracks=tracks,
        weak=k,
        unsure=unsure,
        complete=complete,
    )


def save_pseudo_labels(pseudo: PseudoLabels, project: Project, path: Path) -> Path:
    """The pseudo-labels as predicted instances of the project's videos in ``path``."""
    skeleton = project.labels.skeletons[0]
    frames = []
    for (v, f), pts in zip(pseudo.frame_ids, pseudo.points, strict=True):
        instances = [sio.PredictedInstance.from_numpy(p, skeleton=skeleton, score=1.0) for p in pts]
        frames.append(sio.LabeledFrame(video=project.videos[v], frame_idx=f, instances=instances))
    labels = sio.Labels(labeled_frames=frames, videos=list(project.videos), skeletons=[skeleton])
    save_labels_atomic(labels, path, backup=False)
    return path


def split_budget(total: float | None, share: float) -> tuple[float | None, float | None]:
    """Minutes of the first training and of the adaptation out of ``total``."""
    if total is None:
        return None, None
    second = total * share
    return total - second, second


FIRST_ROUND = "first_round"
"""The run's subfolder that keeps the models of the first round."""


def adaptation_events(
    project: Project,
    config,
    data: LabelledData,
    run_dir: Path,
    models: tuple,
    started: float,
    stop=None,
) -> Iterator:
    """The second round of a run that learns from the whole video: pseudo-labels from the
    first round's models, then each model fine-tuned from its first-round weights on the
    user's labels and the pseudo-labels (ID models keep their first round). The first
    round's models move to ``run_dir/first_round``; the pseudo-labels are written to
    ``run_dir/pseudo_labels.slp``."""
    from ..choices import ModelKind
    from ..data.camera_view import resolve_camera_view
    from ..inference.pipelines import predictor_for
    from ..models.folder import ModelFolder
    from .events import RunNoted
    from .trainer import train_events

    run_dir = Path(run_dir)
    folders = {k: ModelFolder(run_dir / ModelKind(k).value) for k in config.models}
    if not all(f.best.exists() for f in folders.values()):
        missing = ", ".join(k.value for k, f in folders.items() if not f.best.exists())
        yield RunNoted(
            [
                f"No first-round {missing} model to pseudo-label with (training stopped before "
                "its first epoch ended): learning from the whole video is skipped."
            ]
        )
        return
    predictor = predictor_for(
        folders, device=config.device, peak_threshold=config.pipeline.peak_threshold
    )
    resolved, _ = resolve_camera_view(config, data.instances_array())
    aug = resolved.model(list(config.models)[-1]).augmentation
    pseudo = pseudo_label(
        predictor,
        project,
        data,
        config.pipeline.pseudo_label_frames,
        aug.rotation_deg if aug.rotation else 0.0,
    )
    notes = [*pseudo.notes, pseudo.text()]
    if not pseudo.points:
        notes.append("No pseudo-label held: the first round's models are kept.")
    else:
        saved = save_pseudo_labels(pseudo, project, run_dir / "pseudo_labels.slp")
        notes.append(f"Training again on them beside your labels; they are in {saved}.")
    yield RunNoted(notes)
    combined = with_pseudo_labels(data, pseudo)
    left = None
    total = config.pipeline.time_budget_minutes
    if total is not None:
        left = total - (time.perf_counter() - started) / 60
    kinds = [ModelKind(k) for k in models if not ModelKind(k).identities]
    for i, kind in enumerate(kinds):
        if (stop is not None and stop.requested) or not pseudo.points:
            break
        first = run_dir / FIRST_ROUND / kind.value
        if first.exists():
            shutil.rmtree(first)
        first.parent.mkdir(exist_ok=True)
        shutil.move(str(folders[kind].path), str(first))
        section = config.model(kind)
        opt = section.optimization
        if left is not None:
            own_share = config.pipeline.centroid_time_share if i + 1 < len(kinds) else 1.0
            spent = (time.perf_counter() - started) / 60 - (total - left)
            opt.time_limit_minutes = max((left - spent) * own_share, 0.05)
        else:
            opt.epochs = max(1, round(opt.epochs * config.pipeline.adaptation_share))
        if kind.crops:
            section.crop_size = ModelFolder(first).read_info().crop_size
        yield from train_events(
            kind,
            None,
            config,
            folders[kind].path,
            stop=stop,
            data=combined,
            init_weights=first,
        )

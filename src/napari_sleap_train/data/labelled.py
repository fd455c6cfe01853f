"""User-labelled frames in memory, and their split into training and validation frames."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DataError
from ..io.project import Project, video_name
from ..io.video import LazyVideo
from .geometry import instance_anchors


@dataclass
class LabelledData:
    """User-labelled frames in memory.

    ``frames`` is ``(F, C, H, W)`` uint8 (frames of smaller videos zero-padded to the
    largest); ``points`` is ``(F, M, N, 2)`` with NaN for invisible nodes and padding
    instances; ``anchors`` is ``(F, M, 2)``; ``tracks`` is ``(F, M)``, each instance's index
    in ``track_names`` (-1: no track, or padding).
    """

    frames: torch.Tensor
    points: torch.Tensor
    anchors: torch.Tensor
    frame_ids: list[tuple[int, int]]  # (video index, frame index) of each row
    node_names: list[str]
    flip_index: list[int]
    anchor_index: int | None
    edges: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    tracks: torch.Tensor | None = None
    track_names: list[str] = dataclasses.field(default_factory=list)
    video_names: list[str] = dataclasses.field(default_factory=list)  # file name per video
    weak: int = 0  # the last rows hold pseudo-labels (predictions), not the user's labels
    unsure: torch.Tensor | None = None  # (F, M, N) bool: nodes no loss should learn from
    complete: torch.Tensor | None = None  # (F,) bool: every animal of the frame is labelled
    # (where not, models of whole frames learn only near the labelled animals)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_labelled(self) -> int:
        """Rows labelled by the user (the first ones; pseudo-labels follow)."""
        return self.n_frames - self.weak

    def pseudo_rows(self) -> list[int]:
        """The pseudo-labelled rows, which follow the user's."""
        return list(range(self.n_labelled, self.n_frames))

    @property
    def channels(self) -> int:
        return int(self.frames.shape[1])

    @property
    def frame_hw(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    def instance_index(self, frame_rows: list[int]) -> torch.Tensor:
        """``(S, 2)`` (frame row, instance) pairs of instances with an anchor in those rows."""
        ok = torch.isfinite(self.anchors[frame_rows]).all(-1)
        rows, inst = torch.nonzero(ok, as_tuple=True)
        return torch.stack([torch.as_tensor(frame_rows)[rows], inst], dim=1)

    def instances_array(self) -> np.ndarray:
        """Every labelled instance as ``(M, N, 2)`` numpy, padding rows removed."""
        pts = self.points.reshape(-1, *self.points.shape[2:]).numpy()
        return pts[np.isfinite(pts).any(axis=(1, 2))]


def load_labelled_data(project: Project, anchor_part: str | None = None) -> LabelledData:
    """Decode every frame with user instances once and gather their keypoints.

    Raises :class:`DataError` when there is nothing to train on.
    """
    lfs = project.user_frames()
    if not lfs:
        raise DataError(
            "The project has no user-labelled instances. Label at least one animal on one "
            "frame (more frames give better models) and try again."
        )
    nodes = project.node_names
    anchor_index = None
    if anchor_part:
        if anchor_part not in nodes:
            raise DataError(
                f"Anchor part '{anchor_part}' is not a node of the skeleton ({', '.join(nodes)}); "
                "choose one of them or None."
            )
        anchor_index = nodes.index(anchor_part)
    per_frame = [np.stack([i.numpy() for i in lf.user_instances]) for lf in lfs]
    if not any(np.isfinite(p).any() for p in per_frame):
        raise DataError(
            "Every node of every labelled instance is marked invisible: mark the nodes you "
            "can see as visible before training."
        )
    videos = {id(v): LazyVideo(v) for v in project.videos}
    vindex = {id(v): i for i, v in enumerate(project.videos)}
    images = []
    try:
        for lf in lfs:
            lazy = videos[id(lf.video)]
            try:
                images.append(lazy.frame(lf.frame_idx))
            except IndexError as exc:
                raise DataError(
                    f"Frame {lf.frame_idx} of {lazy.filename} is labelled but cannot be read "
                    f"({exc}); the video may be truncated. Replace it with a complete copy "
                    "(or re-encode it), or delete the labels of the frames it lacks."
                ) from exc
    finally:
        for v in videos.values():
            v.close()
    channels = max(img.shape[2] for img in images)
    height = max(img.shape[0] for img in images)
    width = max(img.shape[1] for img in images)
    frames = torch.zeros((len(images), channels, height, width), dtype=torch.uint8)
    for i, img in enumerate(images):
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
        frames[i, :, : img.shape[0], : img.shape[1]] = t.expand(channels, -1, -1)
    m = max(p.shape[0] for p in per_frame)
    points = torch.full((len(lfs), m, len(nodes), 2), float("nan"))
    for i, p in enumerate(per_frame):
        points[i, : p.shape[0]] = torch.from_numpy(p)
    track_names = [t.name for t in project.tracks]
    by_name = {name: k for k, name in reversed(list(enumerate(track_names)))}
    by_id = {id(t): k for k, t in enumerate(project.tracks)}
    tracks = torch.full((len(lfs), m), -1, dtype=torch.long)
    for i, lf in enumerate(lfs):
        for j, inst in enumerate(lf.user_instances):
            if inst.track is not None:
                tracks[i, j] = by_id.get(id(inst.track), by_name.get(inst.track.name, -1))
    anchors = torch.from_numpy(instance_anchors(points.numpy(), anchor_index)).float()
    return LabelledData(
        frames=frames,
        points=points.float(),
        anchors=anchors,
        frame_ids=[(vindex[id(lf.video)], lf.frame_idx) for lf in lfs],
        node_names=nodes,
        flip_index=project.flip_index,
        anchor_index=anchor_index,
        edges=project.edge_inds,
        tracks=tracks,
        track_names=track_names,
        video_names=[video_name(v) for v in project.videos],
    )


@dataclass(frozen=True)
class Split:
    """Frame rows used for training and for validation."""

    train: list[int]
    val: list[int]
    note: str = ""


def split_frames(n_frames: int, fraction: float, seed: int) -> Split:
    """Split frames for validation: ``fraction`` of them, at least one.

    With a single labelled frame it is used for both, and the note says so.
    """
    if n_frames == 1:
        return Split([0], [0], "Only one labelled frame: validating on the training frame.")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_frames).tolist()
    n_val = min(max(1, round(n_frames * fraction)), n_frames - 1) if fraction > 0 else 0
    if n_val == 0:
        return Split(
            sorted(order),
            sorted(order),
            "Validation fraction 0: validating on the training frames.",
        )
    return Split(sorted(order[n_val:]), sorted(order[:n_val]))

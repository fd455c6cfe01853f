"""Training data for every model, built batch by batch as tensor operations.

Labelled frames are decoded once and kept in memory as uint8. Every batch is gathered,
warped (augmentation, scaling, cropping in one ``grid_sample``) and given its target maps
in a handful of batched torch calls, so no per-sample Python runs in the training step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..choices import ModelKind
from ..config import (
    AugmentationConfig,
    BottomUpConfig,
    BottomUpIdConfig,
    CenteredInstanceConfig,
    CenteredInstanceIdConfig,
    CentroidConfig,
    FullFrameModelConfig,
    SingleInstanceConfig,
)
from ..errors import DataError
from ..models.receptive_field import receptive_field_px
from ..project import Project, video_name
from ..video import LazyVideo
from .augment import (
    fixed_affines,
    intensity_augment,
    random_affines,
    swap_symmetric,
    warp_images,
    warp_points,
)
from .confmaps import anchor_confmaps, node_confmaps, part_affinity_fields
from .geometry import CropSizeReport, auto_crop_size, instance_anchors, instance_bbox_sides


def round_up(value: float, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is at least ``value``."""
    return int(math.ceil(value / multiple - 1e-9) * multiple)


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

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

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


class ModelData:
    """Batches of (input, target confidence maps) for one model.

    Subclasses define how a sample's transform is chosen and which points form its target.
    """

    kind: ModelKind
    n_maps: int
    input_hw: tuple[int, int]

    def __init__(
        self,
        data: LabelledData,
        rows: list[int],
        sigma: float,
        output_stride: int,
        augment: AugmentationConfig,
    ):
        self.data = data
        self.rows = rows
        self.sigma = sigma
        self.output_stride = output_stride
        self.augment = augment

    def __len__(self) -> int:
        raise NotImplementedError

    def batch(
        self, idx: torch.Tensor, generator: torch.Generator, augment: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(B, C, h, w)`` in [0, 1] and target maps for sample indices ``idx``."""
        raise NotImplementedError

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss of predicted maps against target maps (mean squared error)."""
        return F.mse_loss(pred, target)

    def metrics(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """Validation figures beside the loss, as means over the batch (none here)."""
        return {}

    def _warp(
        self,
        frame_rows: torch.Tensor,
        centres: torch.Tensor,
        scale: float,
        generator: torch.Generator,
        augment: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if augment:
            A, flipped = random_affines(
                len(frame_rows), self.augment, centres, self.input_hw, generator, scale=scale
            )
        else:
            A = fixed_affines(centres, self.input_hw, scale)
            flipped = torch.zeros(len(frame_rows), dtype=torch.bool)
        images = warp_images(self.data.frames[frame_rows].float(), A, self.input_hw)
        if augment:
            images = intensity_augment(images, self.augment, generator)
        return images.div_(255.0), A, flipped


BACKGROUND_SHARE = 0.25


class FullFrameData(ModelData):
    """Samples that are whole frames scaled by the model's input scaling, or, with a
    training crop, squares of that side around each labelled animal (one sample per animal,
    its centre shifted at random by up to a quarter of the crop while training; a quarter
    of the training crops, :data:`BACKGROUND_SHARE`, are centred anywhere on the frame so the
    model also learns where no animal is)."""

    def __init__(
        self, data: LabelledData, rows: list[int], cfg: CentroidConfig | FullFrameModelConfig
    ):
        super().__init__(data, rows, cfg.sigma, cfg.backbone.output_stride, cfg.augmentation)
        self.scale = cfg.input_scaling
        ms = cfg.backbone.max_stride
        self.crop: int | None = getattr(cfg, "training_crop", None)
        if self.crop:
            side = round_up(self.crop * self.scale, ms)
            self.input_hw = (side, side)
            self.samples: torch.Tensor | None = data.instance_index(rows)
        else:
            h, w = data.frame_hw
            self.input_hw = (round_up(h * self.scale, ms), round_up(w * self.scale, ms))
            self.samples = None

    def __len__(self) -> int:
        return len(self.rows) if self.samples is None else len(self.samples)

    def _frames(self, idx, generator, augment):
        """Frame rows, scaled (and augmented) frames or crops, their affines and
        horizontal flips."""
        if self.samples is None:
            rows = torch.as_tensor(self.rows)[idx]
            h, w = self.data.frame_hw
            centres = torch.tensor([(w - 1) / 2, (h - 1) / 2]).expand(len(rows), 2)
        else:
            rows, inst = self.samples[idx].unbind(1)
            centres = self.data.anchors[rows, inst]
            if augment:
                u = torch.rand(len(rows), 5, generator=generator, device=generator.device)
                u = u.to(centres.device)
                centres = centres + (2 * u[:, :2] - 1) * (self.crop / 4)
                h, w = self.data.frame_hw
                anywhere = u[:, 2:4] * torch.tensor([w - 1, h - 1], device=centres.device)
                background = (u[:, 4] < BACKGROUND_SHARE)[:, None]
                centres = torch.where(background, anywhere.to(centres.dtype), centres)
        return (rows, *self._warp(rows, centres, self.scale, generator, augment))


class CentroidData(FullFrameData):
    """Scaled full frames; one target map holding every animal's anchor."""

    kind = ModelKind.CENTROID
    n_maps = 1

    def batch(self, idx, generator, augment=True):
        rows, x, A, _ = self._frames(idx, generator, augment)
        anchors = warp_points(self.data.anchors[rows], A)
        y = anchor_confmaps(anchors, *self.input_hw, self.sigma, self.output_stride)
        return x, y


class InstanceData(ModelData):
    """Full-resolution crops centred on each instance's anchor; maps of its nodes only."""

    kind = ModelKind.CENTERED_INSTANCE

    def __init__(
        self, data: LabelledData, rows: list[int], cfg: CenteredInstanceConfig, crop_size: int
    ):
        super().__init__(data, rows, cfg.sigma, cfg.backbone.output_stride, cfg.augmentation)
        self.scale = cfg.input_scaling
        self.crop_size = crop_size
        side = round_up(crop_size * self.scale, cfg.backbone.max_stride)
        self.input_hw = (side, side)
        self.n_maps = len(data.node_names)
        self.samples = data.instance_index(rows)
        self.flip_index = torch.as_tensor(data.flip_index)

    def __len__(self) -> int:
        return len(self.samples)

    def batch(self, idx, generator, augment=True):
        rows, inst = self.samples[idx].unbind(1)
        centres = self.data.anchors[rows, inst]
        x, A, flipped = self._warp(rows, centres, self.scale, generator, augment)
        pts = warp_points(self.data.points[rows, inst], A)
        if augment and self.augment.hflip:
            pts = swap_symmetric(pts, flipped, self.flip_index)
        y = node_confmaps(pts, *self.input_hw, self.sigma, self.output_stride)
        return x, y


def class_index(data: LabelledData, class_names: list[str]) -> torch.Tensor:
    """``(F, M)`` long: each labelled instance's class among ``class_names`` (-1: none)."""
    if data.tracks is None:
        return torch.full(data.points.shape[:2], -1, dtype=torch.long)
    to_class = torch.full((len(data.track_names) + 1,), -1, dtype=torch.long)
    for k, name in enumerate(class_names):
        to_class[data.track_names.index(name)] = k
    return to_class[data.tracks]  # -1 (no track) maps to the last entry


class InstanceIdData(InstanceData):
    """The crops of :class:`InstanceData`; after the node maps, the one-hot identity of the
    animal at the centre as constant channels (its track among ``class_names``)."""

    kind = ModelKind.CENTERED_INSTANCE_ID

    def __init__(
        self,
        data: LabelledData,
        rows: list[int],
        cfg: CenteredInstanceIdConfig,
        crop_size: int,
        class_names: list[str],
    ):
        super().__init__(data, rows, cfg, crop_size)
        self.class_names = class_names
        self.n_classes = len(class_names)
        self.class_weight = cfg.class_loss_weight
        self.classes = class_index(data, class_names)

    def batch(self, idx, generator, augment=True):
        x, maps = super().batch(idx, generator, augment)
        rows, inst = self.samples[idx].unbind(1)
        one_hot = F.one_hot(self.classes[rows, inst], self.n_classes).float()
        ids = one_hot[:, :, None, None].expand(-1, -1, *maps.shape[-2:])
        return x, torch.cat([maps, ids], dim=1)

    def loss(self, pred, target):
        n = self.n_maps
        maps = F.mse_loss(pred[:, :n], target[:, :n])
        labels = target[:, n:, 0, 0].argmax(1)
        return maps + self.class_weight * F.cross_entropy(pred[:, n:, 0, 0], labels)

    def metrics(self, pred, target):
        """The share of crops whose animal the identity head names right, and the two
        losses apart (the confidence maps' MSE, the identity's cross-entropy)."""
        n = self.n_maps
        labels = target[:, n:, 0, 0].argmax(1)
        right = pred[:, n:, 0, 0].argmax(1) == labels
        return {
            "val_identity_accuracy": float(right.float().mean()),
            "val_confmap_loss": float(F.mse_loss(pred[:, :n], target[:, :n])),
            "val_identity_loss": float(F.cross_entropy(pred[:, n:, 0, 0], labels)),
        }


MIN_TRACK_INSTANCES = 5
"""Fewer labelled instances of a track than this get a warning before an ID model trains."""


def identity_classes(data: LabelledData) -> tuple[list[str], list[str]]:
    """The tracks an ID model learns (those of labelled instances, in the project's order)
    and notes for the user; :class:`DataError` when training cannot tell animals apart."""
    present = torch.isfinite(data.anchors).all(-1)
    tracks = data.tracks if data.tracks is not None else torch.full(present.shape, -1)
    missing = present & (tracks < 0)
    if missing.any():
        rows = torch.nonzero(missing.any(1)).flatten().tolist()
        where = ", ".join(f"{data.frame_ids[r][1]}" for r in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise DataError(
            f"{int(missing.sum())} labelled instances have no track (frames {where}{more}). "
            "An ID model learns each animal's identity from its track: give every labelled "
            "instance its track (Tracks dock, or the instance's track in SLEAP), or choose a "
            "pipeline without ID."
        )
    counts = torch.bincount(tracks[present], minlength=len(data.track_names)).tolist()
    names = [name for name, count in zip(data.track_names, counts) if count]
    if len(names) < 2:
        raise DataError(
            f"The labelled instances hold {len(names)} track ({', '.join(names) or 'none'}): "
            "an ID model tells two or more animals apart. Label the other animals with their "
            "own tracks, or choose a pipeline without ID."
        )
    notes = [
        f"Identities: {', '.join(f'{n} ({c})' for n, c in zip(data.track_names, counts) if c)} "
        "labelled instances."
    ]
    few = [n for n, c in zip(data.track_names, counts) if 0 < c < MIN_TRACK_INSTANCES]
    if few:
        notes.append(
            f"Warning: {', '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than "
            f"{MIN_TRACK_INSTANCES} labelled instances; label more of "
            f"{'it' if len(few) == 1 else 'them'} so the model learns to recognise "
            f"{'it' if len(few) == 1 else 'them'}."
        )
    return names, notes


class SingleInstanceData(FullFrameData):
    """Scaled full frames of one animal; a map for each of its nodes."""

    kind = ModelKind.SINGLE_INSTANCE

    def __init__(self, data: LabelledData, rows: list[int], cfg: SingleInstanceConfig):
        super().__init__(data, rows, cfg)
        self.n_maps = len(data.node_names)
        self.flip_index = torch.as_tensor(data.flip_index)
        present = torch.isfinite(data.points).all(-1).any(-1)  # (F, M)
        self.animal = present.float().argmax(1)  # each frame's one animal (0 when none)

    def batch(self, idx, generator, augment=True):
        rows, x, A, flipped = self._frames(idx, generator, augment)
        pts = warp_points(self.data.points[rows, self.animal[rows]], A)
        if augment and self.augment.hflip:
            pts = swap_symmetric(pts, flipped, self.flip_index)
        y = node_confmaps(pts, *self.input_hw, self.sigma, self.output_stride)
        return x, y


class EveryAnimalData(FullFrameData):
    """Scaled full frames with every animal's nodes (the bottom-up models' samples)."""

    def __init__(self, data: LabelledData, rows: list[int], cfg: FullFrameModelConfig):
        super().__init__(data, rows, cfg)
        self.n_nodes = len(data.node_names)
        self.flip_index = torch.as_tensor(data.flip_index)

    def _animals(self, idx, generator, augment):
        """Frame rows, inputs, every animal's points ``(B, M, N, 2)`` on the input and a
        map per animal and node ``(B, M, N, h, w)``."""
        rows, x, A, flipped = self._frames(idx, generator, augment)
        pts = warp_points(self.data.points[rows], A)
        if augment and self.augment.hflip:
            pts = swap_symmetric(pts, flipped, self.flip_index)
        b, m, n, _ = pts.shape
        maps = node_confmaps(
            pts.reshape(b * m, n, 2), *self.input_hw, self.sigma, self.output_stride
        )
        return rows, x, pts, maps.reshape(b, m, n, *maps.shape[-2:])


class BottomUpData(EveryAnimalData):
    """Scaled full frames; a map per node holding every animal's node, then the part
    affinity fields of the skeleton's edges (x and y per edge)."""

    kind = ModelKind.BOTTOM_UP

    def __init__(self, data: LabelledData, rows: list[int], cfg: BottomUpConfig):
        super().__init__(data, rows, cfg)
        self.edges = torch.as_tensor(data.edges, dtype=torch.long).reshape(-1, 2)
        self.n_maps = self.n_nodes + 2 * len(self.edges)
        self.paf_sigma = cfg.paf_sigma
        self.paf_weight = cfg.paf_loss_weight

    def batch(self, idx, generator, augment=True):
        _, x, pts, maps = self._animals(idx, generator, augment)
        pafs = part_affinity_fields(
            pts, self.edges, *self.input_hw, self.paf_sigma, self.output_stride
        )
        return x, torch.cat([maps.amax(1), pafs], dim=1)

    def loss(self, pred, target):
        n = self.n_nodes
        cms = F.mse_loss(pred[:, :n], target[:, :n])
        if pred.shape[1] == n:
            return cms
        return cms + self.paf_weight * F.mse_loss(pred[:, n:], target[:, n:])


class BottomUpIdData(EveryAnimalData):
    """Scaled full frames; a map per node holding every animal's node, then a class map per
    track among ``class_names`` (a Gaussian at every node of that track's animals)."""

    kind = ModelKind.BOTTOM_UP_ID

    def __init__(
        self, data: LabelledData, rows: list[int], cfg: BottomUpIdConfig, class_names: list[str]
    ):
        super().__init__(data, rows, cfg)
        self.class_names = class_names
        self.n_classes = len(class_names)
        self.n_maps = self.n_nodes + self.n_classes
        self.class_weight = cfg.class_loss_weight
        self.classes = class_index(data, class_names)

    def batch(self, idx, generator, augment=True):
        rows, x, _, maps = self._animals(idx, generator, augment)
        animal = maps.amax(2)  # (B, M, h, w): every node of one animal
        owner = F.one_hot(self.classes[rows] + 1, self.n_classes + 1)[..., 1:].float()
        class_maps = (animal[:, :, None] * owner[..., None, None]).amax(1)  # (B, K, h, w)
        return x, torch.cat([maps.amax(1), class_maps], dim=1)

    def loss(self, pred, target):
        n = self.n_nodes
        cms = F.mse_loss(pred[:, :n], target[:, :n])
        return cms + self.class_weight * F.mse_loss(pred[:, n:], target[:, n:])

    def metrics(self, pred, target):
        """The share of labelled body parts (target map peaks above 0.5) whose strongest
        class map is their animal's, and the two losses apart."""
        n = self.n_nodes
        classes, truth = pred[:, n:], target[:, n:]
        near = truth.amax(1) > 0.5
        right = (classes.argmax(1) == truth.argmax(1))[near]
        return {
            "val_identity_accuracy": float(right.float().mean()) if len(right) else 0.0,
            "val_confmap_loss": float(F.mse_loss(pred[:, :n], target[:, :n])),
            "val_identity_loss": float(F.mse_loss(classes, truth)),
        }


def check_edges(data: LabelledData) -> None:
    """Refuse a skeleton without edges for a bottom-up model."""
    if not data.edges:
        raise DataError(
            "The bottom-up pipeline groups body parts into animals along the skeleton's edges "
            "(its part affinity fields need edges), but the skeleton has none. Add edges in "
            "the skeleton editor (or the labels file), or use the top-down pipeline."
        )


def receptive_field_note(
    data: LabelledData, cfg: SingleInstanceConfig | BottomUpConfig
) -> str | None:
    """A warning when the model's receptive field (on the original frame) is smaller than
    the largest labelled animal, with the max stride that would cover it."""
    sides = instance_bbox_sides(data.instances_array())
    if not len(sides):
        return None
    largest, scale = float(sides.max()), cfg.input_scaling
    convs = cfg.backbone.convs_per_block
    rf = receptive_field_px(cfg.backbone.max_stride, convs) / scale
    if rf >= largest:
        return None
    fits = [s for s in (8, 16, 32, 64) if receptive_field_px(s, convs) / scale >= largest]
    hint = (
        f"max stride {fits[0]} covers it"
        if fits
        else f"lower input scaling to {receptive_field_px(64, convs) / largest:.2f} with max "
        "stride 64"
    )
    return (
        f"The receptive field ({rf:.0f} px on the original frame) is smaller than the largest "
        f"labelled animal ({largest:.0f} px), so the model sees only part of it at a time: "
        f"{hint}."
    )


def frames_with_several_animals(data: LabelledData) -> list[tuple[int, int]]:
    """(video index, frame index) of the labelled frames that hold more than one animal."""
    present = torch.isfinite(data.points).all(-1).any(-1)  # (F, M): an instance with a node
    several = torch.nonzero(present.sum(1) > 1).flatten().tolist()
    return [data.frame_ids[i] for i in several]


def check_single_animal(data: LabelledData) -> None:
    """Refuse labels with two animals on a frame for a single-instance model, naming them."""
    several = frames_with_several_animals(data)
    if several:
        shown = ", ".join(f"video {v} frame {f}" for v, f in several[:5])
        more = f" and {len(several) - 5} more" if len(several) > 5 else ""
        raise DataError(
            f"The single-instance pipeline finds one animal per frame, but {len(several)} "
            f"labelled frame(s) hold more ({shown}{more}). Use the top-down pipeline, or "
            "delete the extra instances."
        )


def resolve_crop_size(
    data: LabelledData, cfg: CenteredInstanceConfig
) -> tuple[int, CropSizeReport]:
    """The crop size to train with and the auto-size report behind it.

    An explicit crop smaller than the largest labelled animal is refused with the auto value.
    """
    aug = cfg.augmentation
    report = auto_crop_size(
        data.instances_array(),
        cfg.backbone.max_stride,
        rotation_deg=aug.rotation_deg if aug.rotation else 0.0,
        scale_max=aug.scale_max if aug.scale else 1.0,
    )
    if cfg.crop_size is None:
        return report.size, report
    if cfg.crop_size < report.largest_side:
        least = round_up(report.largest_side, cfg.backbone.max_stride)
        raise DataError(
            f"Crop size {cfg.crop_size} px is smaller than the animals: the largest labelled "
            f"instance spans {report.largest_side:.0f} px. Use the auto crop size "
            f"({report.size} px, crop size None) or at least {least}."
        )
    return cfg.crop_size, report


def with_batch_size(dataset_len: int, batch_size: int) -> tuple[int, str]:
    """Clamp a batch size to the training set size, with a note when it was clamped."""
    if batch_size <= dataset_len:
        return batch_size, ""
    return dataset_len, (
        f"Batch size {batch_size} is larger than the training set ({dataset_len} samples); "
        f"using {dataset_len}. Label more frames to train with larger batches."
    )


__all__ = [
    "BottomUpData",
    "BottomUpIdData",
    "class_index",
    "CentroidData",
    "check_edges",
    "DataError",
    "InstanceData",
    "LabelledData",
    "check_single_animal",
    "ModelData",
    "SingleInstanceData",
    "Split",
    "load_labelled_data",
    "resolve_crop_size",
    "frames_with_several_animals",
    "receptive_field_note",
    "split_frames",
    "with_batch_size",
]

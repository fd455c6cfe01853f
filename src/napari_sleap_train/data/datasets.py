"""Training data for every model, built batch by batch as tensor operations.

Labelled frames are decoded once and kept in memory as uint8. Every batch is gathered,
warped (augmentation, scaling, cropping in one ``grid_sample``) and given its target maps
in a handful of batched torch calls, so no per-sample Python runs in the training step.
"""

from __future__ import annotations

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
from .augment import (
    fixed_affines,
    intensity_augment,
    random_affines,
    swap_symmetric,
    warp_images,
    warp_points,
)
from .confmaps import anchor_confmaps, make_grid, node_confmaps, part_affinity_fields
from .geometry import round_up
from .labelled import LabelledData


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
        """The training loss of predicted maps against target maps (mean squared error;
        NaN target maps, a pseudo-label's unsure body parts, are left out)."""
        return self._mse(pred, target)

    def _mse(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared error; only data with pseudo-labels have NaN targets to leave out,
        so the user's labels alone skip the search for them."""
        return masked_mse(pred, target) if self.data.weak else F.mse_loss(pred, target)

    def _partial(self, y: torch.Tensor, rows: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        """``y`` with NaN away from the animals on pseudo-labelled frames where some animal
        may have been missed: there the maps say nothing about the background."""
        complete = self.data.complete
        if complete is None:
            return y
        partial = ~complete[rows]
        if not bool(partial.any()):
            return y
        far = ~near_animals(pts, self.input_hw, self.output_stride)  # (B, h, w)
        far &= partial[:, None, None]
        y = y.clone()
        y.masked_fill_(far[:, None].expand_as(y), float("nan"))
        return y

    def _unsure(self, y: torch.Tensor, unsure: torch.Tensor | None) -> torch.Tensor:
        """``y`` with the maps of unsure body parts ``(B, N)`` set to NaN."""
        if unsure is not None and bool(unsure.any()):
            y = y.clone()
            y[:, : unsure.shape[1]][unsure] = float("nan")
        return y

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


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite elements of ``target``."""
    known = torch.isfinite(target)
    if bool(known.all()):
        return F.mse_loss(pred, target)
    diff = (pred - torch.nan_to_num(target)) ** 2 * known
    return diff.sum() / known.sum().clamp(min=1)


def near_animals(pts: torch.Tensor, hw: tuple[int, int], stride: int) -> torch.Tensor:
    """``(B, h, w)``: the map pixels within the boxes of the animals ``pts`` ``(B, M, N, 2)``
    (input pixels), each box widened by half its side."""
    xv, yv = make_grid(*hw, stride, device=pts.device)
    lo = torch.nan_to_num(pts, nan=float("inf")).amin(2)  # (B, M, 2)
    hi = torch.nan_to_num(pts, nan=float("-inf")).amax(2)
    pad = (hi - lo).amax(-1, keepdim=True).clamp(min=0) / 2
    lo, hi = lo - pad, hi + pad
    inx = (xv[None, None] >= lo[..., :1]) & (xv[None, None] <= hi[..., :1])  # (B, M, w)
    iny = (yv[None, None] >= lo[..., 1:]) & (yv[None, None] <= hi[..., 1:])  # (B, M, h)
    return (iny[..., :, None] & inx[..., None, :]).any(1)


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
        if self.data.weak:
            y = self._partial(y, rows, warp_points(self.data.points[rows], A))
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
        unsure = self.data.unsure
        return x, self._unsure(y, unsure[rows, inst] if unsure is not None else None)


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
        unsure = self.data.unsure
        return x, self._unsure(y, unsure[rows, self.animal[rows]] if unsure is not None else None)


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
        rows, x, pts, maps = self._animals(idx, generator, augment)
        pafs = part_affinity_fields(
            pts, self.edges, *self.input_hw, self.paf_sigma, self.output_stride
        )
        y = torch.cat([maps.amax(1), pafs], dim=1)
        if self.data.unsure is None:
            return x, y
        y = self._partial(y, rows, pts)
        nodes = self.data.unsure[rows].any(1)  # (B, N): unsure on any animal
        edges = nodes[:, self.edges].any(-1) if len(self.edges) else nodes[:, :0]
        return x, self._unsure(y, torch.cat([nodes, edges.repeat_interleave(2, 1)], 1))

    def loss(self, pred, target):
        n = self.n_nodes
        cms = self._mse(pred[:, :n], target[:, :n])
        if pred.shape[1] == n:
            return cms
        return cms + self.paf_weight * self._mse(pred[:, n:], target[:, n:])


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

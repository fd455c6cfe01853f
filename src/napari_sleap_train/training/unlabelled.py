"""Learning from unlabelled frames: losses that need no labels, on pairs of consecutive
frames drawn from every video of the project.

Beside each labelled batch, the model sees a batch of frame pairs (the same crop, the same
random rotation and scale for both frames of a pair). Where each body part is read from
its map (a local soft-argmax, so the loss reaches the maps), two losses apply:

- *temporal*: a body part should not move between neighbouring frames further than the
  labels' own motion allows (the largest step between consecutive labelled frames, or three
  times 5 % of the animal's size where no labelled frames follow each other);
- *pose*: the pose, turned onto the labelled mean pose, should be explained by the
  principal components of the labelled poses (those explaining 99 % of their spread, at
  most half of the pose's free dimensions) about as well as held-out labelled poses are
  (the 99th percentile of their cross-validated error).

Both are zero below their thresholds; above them a body part off by ``d`` costs exactly
what the labelled loss charges a map whose peak is ``d`` from its target's (the mean
squared difference of two Gaussians ``d`` apart), so a unit weight makes a violation cost
what a labelling error of that size costs, and a gross one (a body part on another animal)
no more than a missed body part. Single-instance models learn from
whole frames; centered-instance models from crops around the animals the run's centroid
model finds on the unlabelled frames.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..choices import ModelKind
from ..data.augment import fixed_affines, random_affines, warp_images
from ..data.confmaps import make_grid
from ..data.labelled import LabelledData
from ..errors import SleapTrainError
from ..io.project import Project
from ..models.folder import ModelFolder
from .adaptation import sample_frames, tolerances

KINDS = (ModelKind.SINGLE_INSTANCE, ModelKind.CENTERED_INSTANCE)
"""The models that learn from unlabelled frames (one animal's body parts per input)."""

CONFIDENT = 0.2
MAX_ANIMALS = 4
WINDOW = 2  # soft-argmax half window, in output pixels
MIN_POSES = 10
FOLDS = 5
EXPLAINED = 0.99


def soft_argmax(maps: torch.Tensor, hw: tuple[int, int], stride: int) -> tuple[torch.Tensor, ...]:
    """Each map's peak ``(B, N, 2)`` in input pixels, as the mean of the map's positive
    values within :data:`WINDOW` output pixels of its maximum (differentiable), and the
    maximum ``(B, N)`` (not)."""
    b, n, h, w = maps.shape
    xs, ys = make_grid(*hw, stride, device=maps.device)  # input pixels
    xv, yv = xs[None, :].expand(h, w), ys[:, None].expand(h, w)
    flat = maps.reshape(b, n, -1)
    peak, at = flat.detach().max(-1)
    px, py = xv.reshape(-1)[at], yv.reshape(-1)[at]  # (B, N)
    reach = (WINDOW + 0.5) * stride
    near = ((xv - px[..., None, None]).abs() <= reach) & ((yv - py[..., None, None]).abs() <= reach)
    weight = maps.clamp(min=0) * near
    total = weight.sum((-2, -1)).clamp(min=1e-6)
    x = (weight * xv).sum((-2, -1)) / total
    y = (weight * yv).sum((-2, -1)) / total
    return torch.stack([x, y], -1), peak


def _centred(poses: np.ndarray) -> np.ndarray:
    return poses - poses.mean(1, keepdims=True)


def _align(poses: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Centred ``poses`` ``(M, N, 2)`` each turned onto centred ``target`` ``(N, 2)``."""
    cross = (poses[..., 0] * target[:, 1] - poses[..., 1] * target[:, 0]).sum(1)
    dot = (poses * target).sum((1, 2))
    t = np.arctan2(cross, dot)
    c, s = np.cos(t)[:, None], np.sin(t)[:, None]
    x, y = poses[..., 0], poses[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], -1)


@dataclass
class PosePrior:
    """The labelled poses' mean (centred, ``(N, 2)``, frame pixels), the principal
    components ``(2N, K)`` explaining :data:`EXPLAINED` of their spread, and the error above
    which a pose is implausible (frame pixels, root mean square over body parts)."""

    mean: np.ndarray
    components: np.ndarray
    threshold: float

    @classmethod
    def fit(cls, instances: np.ndarray) -> tuple[PosePrior | None, str]:
        """The prior of complete labelled ``instances`` ``(M, N, 2)``, or None and why."""
        instances = np.asarray(instances, dtype=np.float64)
        n = instances.shape[1] if instances.ndim == 3 else 0
        if n < 3:
            return None, f"The skeleton has {n} body part(s): no pose prior (it needs three)."
        complete = _centred(instances[np.isfinite(instances).all((1, 2))])
        if len(complete) < MIN_POSES:
            return None, (
                f"{len(complete)} labelled animals have every body part: too few for a pose "
                f"prior (it needs {MIN_POSES}); only the temporal loss applies."
            )
        errors = []
        for k in range(FOLDS):  # the error of poses the components did not see
            held = np.arange(len(complete)) % FOLDS == k
            if held.all() or not held.any():
                continue
            prior = cls._fit(complete[~held])
            errors.extend(prior.errors(complete[held]))
        prior = cls._fit(complete)
        prior.threshold = float(np.percentile(errors, 99))
        return prior, ""

    @classmethod
    def _fit(cls, poses: np.ndarray) -> PosePrior:
        mean = poses[0]
        for _ in range(5):  # generalised Procrustes: turn every pose onto the mean
            aligned = _align(poses, mean)
            mean = aligned.mean(0)
        flat = (aligned - mean).reshape(len(poses), -1)
        _, s, vt = np.linalg.svd(flat, full_matrices=False)
        share = np.cumsum(s**2) / max(float((s**2).sum()), 1e-12)
        # at most half of the shape's free dimensions (2N less translation and rotation), so
        # the prior always constrains the pose, also where noise spreads the variance evenly
        k = min(int(np.searchsorted(share, EXPLAINED) + 1), max(1, (flat.shape[1] - 3) // 2))
        return cls(mean, vt[:k].T, 0.0)

    def errors(self, poses: np.ndarray) -> np.ndarray:
        """Root-mean-square residual per pose ``(M,)`` (frame pixels)."""
        v = (_align(_centred(poses), self.mean) - self.mean).reshape(len(poses), -1)
        r = v - (v @ self.components) @ self.components.T
        return np.sqrt((r**2).reshape(len(poses), -1, 2).sum(-1).mean(1))

    def torch_errors(self, poses: torch.Tensor) -> torch.Tensor:
        """:meth:`errors` of ``(B, N, 2)`` poses, differentiable."""
        mean = torch.as_tensor(self.mean, dtype=poses.dtype, device=poses.device)
        comps = torch.as_tensor(self.components, dtype=poses.dtype, device=poses.device)
        q = poses - poses.mean(1, keepdim=True)
        cross = (q[..., 0] * mean[:, 1] - q[..., 1] * mean[:, 0]).sum(1)
        dot = (q * mean).sum((1, 2))
        t = torch.atan2(cross, dot)
        c, s = torch.cos(t)[:, None], torch.sin(t)[:, None]
        turned = torch.stack([c * q[..., 0] - s * q[..., 1], s * q[..., 0] + c * q[..., 1]], -1)
        v = (turned - mean).reshape(len(poses), -1)
        r = v - (v @ comps) @ comps.T
        return torch.sqrt((r**2).reshape(len(poses), -1, 2).sum(-1).mean(1) + 1e-9)


@dataclass
class FramePairs:
    """Pairs of consecutive unlabelled frames ``(P, 2, C, H, W)`` uint8, and the samples
    drawn from them: ``(pair, x, y)`` rows, the point each input is centred on."""

    frames: torch.Tensor
    samples: torch.Tensor
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)


def frame_pairs(
    project: Project, n: int, centroid: ModelFolder | None = None, device: str = "cpu"
) -> FramePairs:
    """Up to ``n`` pairs of consecutive frames spread over every readable video; the
    samples are the frames' centres, or the animals a ``centroid`` model finds on the first
    frame of each pair (at most :data:`MAX_ANIMALS` a frame)."""
    picked, notes = sample_frames(project, n)
    images, unread = [], 0
    for _, f, lazy in picked:
        try:
            images.append(np.stack([np.asarray(lazy.frame(f)), np.asarray(lazy.frame(f + 1))]))
        except (IndexError, SleapTrainError, OSError, ValueError):
            unread += 1  # a truncated or damaged stretch of the video
    if unread:
        notes.append(f"{unread} unlabelled frame pairs could not be read and are left out.")
    for lazy in {id(p[2]): p[2] for p in picked}.values():
        lazy.close()
    if not images:
        return FramePairs(
            torch.zeros((0, 2, 1, 1, 1), dtype=torch.uint8), torch.zeros((0, 3)), notes
        )
    h = max(i.shape[1] for i in images)
    w = max(i.shape[2] for i in images)
    c = max(i.shape[3] if i.ndim == 4 else 1 for i in images)
    frames = torch.zeros((len(images), 2, c, h, w), dtype=torch.uint8)
    for p, pair in enumerate(images):
        pair = pair if pair.ndim == 4 else pair[..., None]
        t = torch.from_numpy(np.ascontiguousarray(pair)).permute(0, 3, 1, 2)
        frames[p, :, :, : pair.shape[1], : pair.shape[2]] = t.expand(-1, c, -1, -1)
    if centroid is None:
        centre = [(w - 1) / 2, (h - 1) / 2]
        samples = torch.tensor([[p, *centre] for p in range(len(frames))], dtype=torch.float32)
    else:
        samples = _animals(frames, centroid, device)
        notes.append(f"The centroid model found {len(samples)} animals on {len(frames)} frames.")
    return FramePairs(frames, samples, notes)


def _animals(frames: torch.Tensor, centroid: ModelFolder, device: str) -> torch.Tensor:
    from ..inference.topdown import CentroidPredictor

    predictor = CentroidPredictor(centroid, device=device)
    rows = []
    first = frames[:, 0].permute(0, 2, 3, 1).numpy()
    for start in range(0, len(first), 8):
        for i, pred in enumerate(predictor.predict_batch(first[start : start + 8])):
            best = np.argsort(-pred.scores)[:MAX_ANIMALS]
            rows.extend([start + i, *pred.points[k, 0]] for k in best)
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 3)


class UnlabelledLoss:
    """The batches of frame pairs a model learns from without labels, and their loss.

    ``input_hw``, ``scale`` and ``stride``: the model's input size, input scaling and output
    stride; ``augment``: its augmentation (rotation and scale drawn once per pair, no flip).
    """

    def __init__(
        self,
        pairs: FramePairs,
        data: LabelledData,
        input_hw: tuple[int, int],
        scale: float,
        stride: int,
        augment,
        sigma: float,
        weight: float = 1.0,
    ):
        self.pairs, self.input_hw, self.scale, self.stride = pairs, input_hw, scale, stride
        self.sigma = sigma / stride  # the maps' Gaussians, in output pixels
        self.augment = copy.deepcopy(augment)
        self.augment.hflip = False
        self.weight = weight
        _, self.motion = tolerances(data)
        self.prior, note = PosePrior.fit(data.instances_array())
        self.notes = [*pairs.notes, *([note] if note else [])]  # said when training starts
        h, w = input_hw
        # two unit Gaussians of sigma s, d apart, differ by 2 pi s^2 (1 - exp(-d^2 / 4 s^2))
        # summed over the map; the loss is the mean over its (h / stride) (w / stride) pixels
        self.full = 2 * math.pi * self.sigma**2 / ((h / stride) * (w / stride))
        self.parts = ("temporal", "pose") if self.prior is not None else ("temporal",)
        self.last: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def text(self) -> str:
        prior = (
            f"pose prior of {self.prior.components.shape[1]} components, threshold "
            f"{self.prior.threshold:.1f} px"
            if self.prior is not None
            else "no pose prior"
        )
        return (
            f"Learning from {len(self.pairs)} unlabelled animals on "
            f"{len(self.pairs.frames)} pairs of consecutive frames: motion allowed "
            f"{self.motion:.1f} px a frame, {prior}."
        )

    def batch(self, n: int, generator: torch.Generator, augment: bool = True):
        """``2n`` inputs (the first frames of ``n`` pairs, then their second frames) and the
        pixel size of a frame pixel in the input, per pair ``(n,)``."""
        idx = torch.randint(len(self.pairs), (n,), generator=generator)
        rows = self.pairs.samples[idx, 0].long()
        centres = self.pairs.samples[idx, 1:]
        if augment:
            A, _ = random_affines(n, self.augment, centres, self.input_hw, generator, self.scale)
        else:
            A = fixed_affines(centres, self.input_hw, self.scale)
        frames = self.pairs.frames[rows]  # (n, 2, C, H, W)
        first = warp_images(frames[:, 0].float(), A, self.input_hw)
        second = warp_images(frames[:, 1].float(), A, self.input_hw)
        zoom = torch.sqrt(torch.det(A[:, :, :2]).abs())
        return torch.cat([first, second]).div_(255.0), zoom

    def loss(self, maps: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
        """The weighted temporal and pose losses of the maps of one :meth:`batch`."""
        pts, peak = soft_argmax(maps, self.input_hw, self.stride)
        n = len(zoom)
        zoom = zoom.to(pts.device)
        a, b = pts[:n], pts[n:]
        seen = (peak[:n] >= CONFIDENT) & (peak[n:] >= CONFIDENT)
        step = (a - b).norm(dim=-1) / zoom[:, None]  # frame pixels
        over = (step - self.motion).clamp(min=0) * zoom[:, None] / self.stride  # output px
        temporal = (self._cost(over) * seen).sum() / seen.sum().clamp(min=1)
        total = temporal
        self.last = {"temporal": float(temporal.detach())}
        if self.prior is not None:
            self.last["pose"] = 0.0
            whole = torch.cat([seen.all(1), seen.all(1)])
            poses = pts[whole] / torch.cat([zoom, zoom])[whole][:, None, None]
            if len(poses):
                err = self.prior.torch_errors(poses)
                over = (err - self.prior.threshold).clamp(min=0)
                pose = self._cost(over * torch.cat([zoom, zoom])[whole] / self.stride).mean()
                total = total + pose
                self.last["pose"] = float(pose.detach())
        return self.weight * total

    def _cost(self, over: torch.Tensor) -> torch.Tensor:
        """The labelled loss of a map whose peak is ``over`` output pixels off."""
        return self.full * (1 - torch.exp(-(over**2) / (4 * self.sigma**2)))


def unlabelled_loss(
    kind: ModelKind,
    project: Project,
    data: LabelledData,
    train,
    section,
    n_pairs: int,
    weight: float,
    centroid: ModelFolder | None,
    device: str,
) -> tuple[UnlabelledLoss | None, list[str]]:
    """The unlabelled loss of model ``kind`` (``train``: its training data), or None and
    why not: the models it does not apply to, a single-instance model trained on crops, a
    centered-instance model without a centroid model or with no animal found, no readable
    video."""
    if kind not in KINDS:
        return None, []
    if getattr(train, "crop", None):
        return None, ["Unlabelled frames: not for a model trained on crops of whole frames."]
    if kind is ModelKind.CENTERED_INSTANCE and (centroid is None or not centroid.best.exists()):
        return None, ["Unlabelled frames: no centroid model in this run to find the animals."]
    pairs = frame_pairs(project, n_pairs, centroid if kind.crops else None, device)
    if not len(pairs):
        return None, [*pairs.notes, "Unlabelled frames: none to learn from."]
    loss = UnlabelledLoss(
        pairs,
        data,
        train.input_hw,
        train.scale,
        train.output_stride,
        section.augmentation,
        section.sigma,
        weight,
    )
    return loss, [*loss.notes, loss.text()]

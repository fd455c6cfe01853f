"""Top-down prediction: centroids on scaled frames, then every node in a crop per animal.

Frames are decoded in a background thread while the models run, so the models never wait
on the decoder when the decoder is faster.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..choices import ModelKind
from ..data.augment import fixed_affines, warp_images
from ..data.datasets import round_up
from ..errors import InferenceError, ModelFolderError
from ..models.device import (
    autocast,
    resolve_device,
    resolve_precision,
    to_layout,
    use_channels_last,
)
from ..models.folder import ModelFolder, RunFolder
from ..video import LazyVideo
from .peaks import global_peaks, local_peaks


@dataclass
class FramePrediction:
    """Instances found on one frame: ``points`` ``(M, N, 2)`` xy (NaN = not found)."""

    frame_idx: int
    points: np.ndarray
    point_scores: np.ndarray
    scores: np.ndarray

    @property
    def n_instances(self) -> int:
        return int(self.points.shape[0])


@dataclass
class PredictionStats:
    """Throughput of a prediction run."""

    frames: int = 0
    instances: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


TOP_DOWN_MODELS = (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE)


def _folder(folder: str | os.PathLike | ModelFolder) -> ModelFolder:
    return folder if isinstance(folder, ModelFolder) else ModelFolder(Path(folder))


def output_to_input(A: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """Map points ``(B, ..., 2)`` through affines ``A`` ``(B, 2, 3)`` (output px -> input px)."""
    shape = pts.shape
    flat = pts.reshape(shape[0], -1, 2)
    out = flat @ A[:, :, :2].transpose(1, 2) + A[:, None, :, 2]
    return out.reshape(shape)


class TopDownPredictor:
    """A centroid model and a centered-instance model used together.

    Parameters
    ----------
    centroid_dir, instance_dir
        Model folders written by training (paths or :class:`ModelFolder`).
    device
        ``auto``, ``cpu``, ``cuda`` or ``mps``.
    peak_threshold
        Minimum confidence for a centroid or a node to count (default: the model's, 0.2).
    max_instances
        Keep at most this many instances per frame (highest centroid scores).
    precision
        ``auto`` (bfloat16 on a CPU that computes it natively, else float32), ``fp32`` or
        ``bf16``. Peaks are always refined in float32.
    """

    def __init__(
        self,
        centroid_dir: str | os.PathLike | ModelFolder,
        instance_dir: str | os.PathLike | ModelFolder,
        device: str = "auto",
        peak_threshold: float | None = None,
        max_instances: int | None = None,
        precision: str = "auto",
    ):
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.channels_last = use_channels_last(self.device)
        self.centroid, self.centroid_info = _folder(centroid_dir).load_model()
        self.instance, self.instance_info = _folder(instance_dir).load_model()
        if self.centroid_info.kind is not ModelKind.CENTROID:
            raise ModelFolderError(f"{centroid_dir} does not hold a centroid model.")
        if self.instance_info.kind is not ModelKind.CENTERED_INSTANCE:
            raise ModelFolderError(f"{instance_dir} does not hold a centered-instance model.")
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        self.centroid.to(self.device, memory_format=layout)
        self.instance.to(self.device, memory_format=layout)
        self.node_names: list[str] = list(self.instance_info.node_names)
        self.threshold = 0.2 if peak_threshold is None else peak_threshold
        self.max_instances = max_instances
        self.in_channels = self.instance_info.in_channels

    @classmethod
    def from_folders(
        cls, folders: Mapping[ModelKind | str, ModelFolder | str | os.PathLike], **kwargs
    ) -> TopDownPredictor:
        """The predictor of a top-down pipeline's model folders, keyed by model kind."""
        folders = {ModelKind(k): v for k, v in folders.items()}
        missing = [k.value for k in TOP_DOWN_MODELS if k not in folders]
        if missing:
            raise ModelFolderError(f"No {' or '.join(missing)} model to predict with.")
        return cls(folders[ModelKind.CENTROID], folders[ModelKind.CENTERED_INSTANCE], **kwargs)

    @classmethod
    def from_models_dir(cls, models_dir: str | os.PathLike, **kwargs) -> TopDownPredictor:
        """Load ``centroid/`` and ``centered_instance/`` from a folder written by ``train``."""
        run = RunFolder(Path(models_dir))
        if not run.path.is_dir():
            raise ModelFolderError(
                f"Models folder {run.path} does not exist: give the folder `train --out` wrote."
            )
        return cls.from_folders(run.models(TOP_DOWN_MODELS), **kwargs)

    def check_skeleton(self, node_names: Sequence[str]) -> None:
        """Refuse a project whose skeleton differs from the one the models learnt."""
        if list(node_names) != self.node_names:
            raise InferenceError(
                "The models were trained on another skeleton: model nodes "
                f"{self.node_names}, project nodes {list(node_names)}. Use models trained on "
                "this project's skeleton."
            )

    def _to_tensor(self, frames: np.ndarray) -> torch.Tensor:
        if frames.ndim == 3:
            frames = frames[..., None]
        c = frames.shape[-1]
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        if c == self.in_channels:
            return x
        if c == 3 and self.in_channels == 1:
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            return (x * w).sum(1, keepdim=True)
        if c == 1 and self.in_channels == 3:
            return x.expand(-1, 3, -1, -1)
        raise InferenceError(
            f"Frames have {c} channels but the models were trained on {self.in_channels}."
        )

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict instances on a batch of frames ``(B, H, W[, C])`` uint8."""
        x = self._to_tensor(frames).to(self.device)
        b, _, h, w = x.shape
        ci = self.centroid_info
        scale = ci.input_scaling
        hw = (round_up(h * scale, ci.max_stride), round_up(w * scale, ci.max_stride))
        centres = torch.tensor([(w - 1) / 2, (h - 1) / 2]).expand(b, 2)
        A = fixed_affines(centres, hw, scale).to(self.device)
        cms = self._run(self.centroid, warp_images(x, A, hw) / 255.0)
        sample, _, peaks, values = local_peaks(
            cms, threshold=self.threshold, stride=ci.output_stride
        )
        peaks = output_to_input(A[sample], peaks[:, None])[:, 0] if len(sample) else peaks
        sample, peaks, values = self._limit(sample, peaks, values)

        n_nodes = len(self.node_names)
        pts = torch.full((len(sample), n_nodes, 2), float("nan"))
        pscores = torch.zeros((len(sample), n_nodes))
        if len(sample):
            ii = self.instance_info
            side = ii.input_hw[0]
            Ac = fixed_affines(peaks.cpu(), (side, side), ii.input_scaling).to(self.device)
            crops = warp_images(x[sample], Ac, (side, side)) / 255.0
            node_cms = self._run(self.instance, crops)
            nodes, nvals = global_peaks(node_cms, stride=ii.output_stride)
            nodes = output_to_input(Ac, nodes)
            found = nvals >= self.threshold
            pts = torch.where(found[..., None], nodes, torch.nan).cpu()
            pscores = nvals.cpu()
        out = []
        sample = sample.cpu()
        for i in range(b):
            rows = sample == i
            out.append(
                FramePrediction(
                    frame_idx=i,
                    points=pts[rows].numpy().astype(np.float64),
                    point_scores=pscores[rows].numpy().astype(np.float64),
                    scores=values[rows].cpu().numpy().astype(np.float64),
                )
            )
        return out

    def _run(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            out = model(to_layout(x, self.channels_last))
        return out.float().contiguous()

    def _limit(self, sample, peaks, values):
        if self.max_instances is None or not len(sample):
            return sample, peaks, values
        keep = []
        for i in sample.unique():
            rows = torch.nonzero(sample == i).flatten()
            keep.append(rows[values[rows].argsort(descending=True)[: self.max_instances]])
        k = torch.cat(keep).sort().values
        return sample[k], peaks[k], values[k]

    def predict_video(
        self,
        video: LazyVideo,
        frame_indices: Sequence[int],
        batch_size: int = 4,
        progress: Callable[[int, int], None] | None = None,
        stats: PredictionStats | None = None,
    ) -> Iterator[FramePrediction]:
        """Predict ``frame_indices`` of ``video``, decoding in a background thread."""
        stats = stats if stats is not None else PredictionStats()
        indices = list(frame_indices)
        batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
        q: queue.Queue = queue.Queue(maxsize=4)
        halt = threading.Event()

        def decode() -> None:
            try:
                for batch in batches:
                    item = (batch, np.stack([video.frame(f) for f in batch]))
                    while not halt.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if halt.is_set():
                        return
            except Exception as exc:  # noqa: BLE001 - handed to the consumer
                q.put(exc)
                return
            q.put(None)

        t0 = time.perf_counter()
        thread = threading.Thread(target=decode, name="frame-decoder", daemon=True)
        thread.start()
        done = 0
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, IndexError):
                    raise InferenceError(
                        f"{item} Predict on the frames the video holds (--frames), or "
                        "replace the video with a complete copy."
                    ) from item
                if isinstance(item, Exception):
                    raise item
                batch, frames = item
                t1 = time.perf_counter()
                preds = self.predict_batch(frames)
                stats.model_seconds += time.perf_counter() - t1
                for f, pred in zip(batch, preds):
                    pred.frame_idx = f
                    stats.frames += 1
                    stats.instances += pred.n_instances
                    yield pred
                done += len(batch)
                stats.seconds = time.perf_counter() - t0
                if progress is not None:
                    progress(done, len(indices))
        finally:
            halt.set()
            thread.join(timeout=5)
            stats.seconds = time.perf_counter() - t0

"""What every predictor shares: the device, frames as tensors, decoding a video in a
background thread while the models run (so they never wait on the decoder when it is
faster), and loading a model from a model folder (PyTorch) or an exported one (ONNX Runtime,
TensorRT or TorchScript, :mod:`.runtimes`)."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..choices import ModelKind
from ..data.augment import fixed_affines, warp_images
from ..data.geometry import round_up
from ..errors import InferenceError, ModelFolderError
from ..io.video import LazyVideo
from ..models.device import (
    autocast,
    resolve_device,
    resolve_precision,
    to_layout,
    use_channels_last,
)
from ..models.export import ExportedModelFolder, is_exported_model
from ..models.folder import ModelFolder, RunFolder
from .runtimes import OnnxNetwork, load_exported


@dataclass
class FramePrediction:
    """Instances found on one frame: ``points`` ``(M, N, 2)`` xy (NaN = not found); from an
    ID model also each instance's track name (one instance per track at most) and the
    probability of that identity; from an ensemble each body part's ``spread`` ``(M, N)``
    in px (how far the members disagree; NaN where unknown)."""

    frame_idx: int
    points: np.ndarray
    point_scores: np.ndarray
    scores: np.ndarray
    identities: list[str | None] | None = None
    identity_scores: np.ndarray | None = None
    spread: np.ndarray | None = None

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


def model_folder(folder: str | os.PathLike | ModelFolder) -> ModelFolder:
    """A model folder (an :class:`ExportedModelFolder` when it holds an exported network)."""
    if isinstance(folder, ModelFolder):
        return folder
    path = Path(folder)
    return ExportedModelFolder(path) if is_exported_model(path) else ModelFolder(path)


def existing_run(models_dir: str | os.PathLike) -> RunFolder:
    """The run folder ``models_dir``, refused when it does not exist."""
    run = RunFolder(Path(models_dir))
    if not run.path.is_dir():
        raise ModelFolderError(
            f"Models folder {run.path} does not exist: give the folder `train --out` wrote."
        )
    return run


def output_to_input(A: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """Map points ``(B, ..., 2)`` through affines ``A`` ``(B, 2, 3)`` (output px -> input px)."""
    shape = pts.shape
    flat = pts.reshape(shape[0], -1, 2)
    out = flat @ A[:, :, :2].transpose(1, 2) + A[:, None, :, 2]
    return out.reshape(shape)


class Predictor:
    """A pipeline's models on one device; subclasses define :meth:`predict_batch`.

    ``precision``: ``auto`` (bfloat16 on a CPU that computes it natively, else float32),
    ``fp32`` or ``bf16``; peaks are always refined in float32. ``class_names``: the tracks
    an ID model names (empty for the others).
    """

    node_names: list[str]
    in_channels: int

    def __init__(self, device: str = "auto", precision: str = "auto"):
        self.class_names: list[str] = []
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.channels_last = use_channels_last(self.device)
        self.runtime = "torch"  # what runs the networks, in words

    def _load(self, folder, kind: ModelKind | tuple[ModelKind, ...]):
        """The model of ``folder`` on this device, refused unless it is a ``kind`` model
        (or one of several kinds). An exported model folder gives its network in the runtime
        the folder names (:func:`~.runtimes.load_exported`), computing in float32."""
        folder = model_folder(folder)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(folder, ExportedModelFolder):
            network, info = load_exported(folder, kinds, folder.runtime, self.device)
            self.precision = "fp32"
            if isinstance(network, OnnxNetwork):
                self.runtime = f"onnxruntime ({', '.join(network.providers)})"
                return network, info
            self.runtime = "torchscript"
            model = network
        else:
            model, info = folder.load_model()
        if info.kind not in kinds:
            raise ModelFolderError(
                f"{folder.path} does not hold a {' or '.join(k.value for k in kinds)} model."
            )
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        model.to(self.device, memory_format=layout)
        return model, info

    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        raise NotImplementedError

    def predict_frame(self, image: np.ndarray) -> FramePrediction:
        """The instances on one frame ``(H, W)`` or ``(H, W, C)`` uint8 (``frame_idx`` 0)."""
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise InferenceError(
                f"A frame has shape (height, width) or (height, width, channels), not "
                f"{image.shape}: give one frame."
            )
        return self.predict_batch(image[None])[0]

    def _full_frames(self, model, info, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A full-frame model's maps of frames ``x`` (scaled by its input scaling) and the
        affines that took the frames to its input."""
        b, _, h, w = x.shape
        scale = info.input_scaling
        hw = (round_up(h * scale, info.max_stride), round_up(w * scale, info.max_stride))
        centres = torch.tensor([(w - 1) / 2, (h - 1) / 2]).expand(b, 2)
        A = fixed_affines(centres, hw, scale).to(self.device)
        return self._run(model, warp_images(x, A, hw) / 255.0), A

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

    def check_skeleton(self, node_names: Sequence[str]) -> None:
        """Refuse a project whose skeleton differs from the one the models learnt."""
        if list(node_names) != self.node_names:
            raise InferenceError(
                "The models were trained on another skeleton: model nodes "
                f"{self.node_names}, project nodes {list(node_names)}. Use models trained on "
                "this project's skeleton."
            )

    def _run(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(model, torch.nn.Module):  # an ONNX Runtime session: float32 in, out
            return model(x)
        with autocast(self.device, self.precision):
            out = model(to_layout(x, self.channels_last))
        return out.float().contiguous()

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

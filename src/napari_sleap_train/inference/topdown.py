"""Top-down prediction: centroids on scaled frames, then every node in a crop per animal
(and, for top-down-ID, the animal's identity: distinct per frame)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from ..choices import ModelKind
from ..data.augment import fixed_affines, warp_images
from ..errors import ModelFolderError
from ..models.folder import ModelFolder
from .identity import assign_identities
from .peaks import global_peaks, local_peaks
from .predictor import FramePrediction, PredictionStats, Predictor, existing_run, output_to_input

__all__ = ["TOP_DOWN_MODELS", "FramePrediction", "PredictionStats", "TopDownPredictor"]

TOP_DOWN_MODELS = (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE)
TOP_DOWN_ID_MODELS = (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE_ID)
TOP_DOWN_INSTANCE = (ModelKind.CENTERED_INSTANCE, ModelKind.CENTERED_INSTANCE_ID)


class TopDownPredictor(Predictor):
    """A centroid model and a centered-instance model used together.

    Parameters
    ----------
    centroid_dir, instance_dir
        Model folders written by training (paths or :class:`ModelFolder`); an instance
        model of top-down-ID also names each animal (``class_names``).
    device
        ``auto``, ``cpu``, ``cuda`` or ``mps``.
    peak_threshold
        Minimum confidence for a centroid or a node to count (default: the model's, 0.2).
    max_instances
        Keep at most this many instances per frame (highest centroid scores).
    precision
        See :class:`Predictor`.
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
        super().__init__(device, precision)
        self.centroid, self.centroid_info = self._load(centroid_dir, ModelKind.CENTROID)
        self.instance, self.instance_info = self._load(instance_dir, TOP_DOWN_INSTANCE)
        self.node_names: list[str] = list(self.instance_info.node_names)
        self.class_names: list[str] = list(self.instance_info.class_names)
        self.threshold = 0.2 if peak_threshold is None else peak_threshold
        self.max_instances = max_instances
        self.in_channels = self.instance_info.in_channels

    @classmethod
    def from_folders(
        cls, folders: Mapping[ModelKind | str, ModelFolder | str | os.PathLike], **kwargs
    ) -> TopDownPredictor:
        """The predictor of a top-down pipeline's model folders, keyed by model kind."""
        folders = {ModelKind(k): v for k, v in folders.items()}
        kinds = TOP_DOWN_ID_MODELS if ModelKind.CENTERED_INSTANCE_ID in folders else TOP_DOWN_MODELS
        missing = [k.value for k in kinds if k not in folders]
        if missing:
            raise ModelFolderError(f"No {' or '.join(missing)} model to predict with.")
        return cls(*(folders[k] for k in kinds), **kwargs)

    @classmethod
    def from_models_dir(cls, models_dir: str | os.PathLike, **kwargs) -> TopDownPredictor:
        """Load ``centroid/`` and ``centered_instance/`` (or ``centered_instance_id/``) from a
        folder written by ``train``."""
        run = existing_run(models_dir)
        return cls.from_folders(run.models(run.pipeline_models()), **kwargs)

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict instances on a batch of frames ``(B, H, W[, C])`` uint8."""
        x = self._to_tensor(frames).to(self.device)
        b = x.shape[0]
        cms, A = self._full_frames(self.centroid, self.centroid_info, x)
        sample, _, peaks, values = local_peaks(
            cms, threshold=self.threshold, stride=self.centroid_info.output_stride
        )
        peaks = output_to_input(A[sample], peaks[:, None])[:, 0] if len(sample) else peaks
        sample, peaks, values = self._limit(sample, peaks, values)

        n_nodes = len(self.node_names)
        pts = torch.full((len(sample), n_nodes, 2), float("nan"))
        pscores = torch.zeros((len(sample), n_nodes))
        probs = torch.zeros((len(sample), len(self.class_names)))
        if len(sample):
            ii = self.instance_info
            side = ii.input_hw[0]
            Ac = fixed_affines(peaks.cpu(), (side, side), ii.input_scaling).to(self.device)
            crops = warp_images(x[sample], Ac, (side, side)) / 255.0
            node_cms = self._run(self.instance, crops)
            if self.class_names:
                probs = node_cms[:, n_nodes:, 0, 0].float().softmax(1).cpu()
                node_cms = node_cms[:, :n_nodes]
            nodes, nvals = global_peaks(node_cms, stride=ii.output_stride)
            nodes = output_to_input(Ac, nodes)
            found = nvals >= self.threshold
            pts = torch.where(found[..., None], nodes, torch.nan).cpu()
            pscores = nvals.cpu()
        out = []
        sample, values = sample.cpu(), values.cpu()
        for i in range(b):
            rows = torch.nonzero(sample == i).flatten()
            identities = None
            if self.class_names:
                # as SLEAP's ID models: each identity names one animal at most, and a peak
                # left without one (more peaks than animals) is not an animal
                classes, identity_scores = assign_identities(probs[rows].numpy())
                named = classes >= 0
                rows, identities = rows[torch.from_numpy(named)], classes[named]
            pred = FramePrediction(
                frame_idx=i,
                points=pts[rows].numpy().astype(np.float64),
                point_scores=pscores[rows].numpy().astype(np.float64),
                scores=values[rows].numpy().astype(np.float64),
            )
            if identities is not None:
                pred.identities = [self.class_names[c] for c in identities]
                pred.identity_scores = identity_scores[named]
            out.append(pred)
        return out

    def _limit(self, sample, peaks, values):
        if self.max_instances is None or not len(sample):
            return sample, peaks, values
        keep = []
        for i in sample.unique():
            rows = torch.nonzero(sample == i).flatten()
            keep.append(rows[values[rows].argsort(descending=True)[: self.max_instances]])
        k = torch.cat(keep).sort().values
        return sample[k], peaks[k], values[k]


class CentroidPredictor(Predictor):
    """A centroid model alone: where the animals are on each frame (their anchors)."""

    def __init__(
        self,
        folder: str | os.PathLike | ModelFolder,
        device: str = "auto",
        peak_threshold: float | None = None,
        precision: str = "auto",
    ):
        super().__init__(device, precision)
        self.model, self.info = self._load(folder, ModelKind.CENTROID)
        self.node_names = [self.info.anchor_part or "centroid"]
        self.in_channels = self.info.in_channels
        self.threshold = 0.2 if peak_threshold is None else peak_threshold

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Each frame's anchors as one-node instances."""
        x = self._to_tensor(frames).to(self.device)
        cms, A = self._full_frames(self.model, self.info, x)
        sample, _, peaks, values = local_peaks(
            cms, threshold=self.threshold, stride=self.info.output_stride
        )
        if len(sample):
            peaks = output_to_input(A[sample], peaks[:, None])[:, 0]
        sample, peaks, values = sample.cpu(), peaks.cpu(), values.cpu()
        out = []
        for i in range(len(frames)):
            rows = sample == i
            pts = peaks[rows].numpy().astype(np.float64)[:, None]
            scores = values[rows].numpy().astype(np.float64)
            out.append(FramePrediction(i, pts, scores[:, None].copy(), scores))
        return out

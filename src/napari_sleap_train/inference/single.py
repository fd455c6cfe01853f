"""Single-instance prediction: every node of the one animal on the (scaled) frame, the best
peak of each node's map."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..choices import ModelKind
from ..models.folder import ModelFolder
from .peaks import global_peaks
from .predictor import FramePrediction, Predictor, output_to_input


class SingleInstancePredictor(Predictor):
    """A single-instance model: one animal a frame, found when any node is.

    A node counts when its peak reaches ``peak_threshold`` (default 0.2); the instance's
    score is the mean peak value of its nodes.
    """

    def __init__(
        self,
        folder: str | os.PathLike | ModelFolder,
        device: str = "auto",
        peak_threshold: float | None = None,
        max_instances: int | None = None,  # at most one, whatever is asked
        precision: str = "auto",
    ):
        super().__init__(device, precision)
        self.model, self.info = self._load(folder, ModelKind.SINGLE_INSTANCE)
        self.node_names: list[str] = list(self.info.node_names)
        self.threshold = 0.2 if peak_threshold is None else peak_threshold
        self.in_channels = self.info.in_channels

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict the animal on a batch of frames ``(B, H, W[, C])`` uint8."""
        x = self._to_tensor(frames).to(self.device)
        cms, A = self._full_frames(self.model, self.info, x)
        nodes, values = global_peaks(cms, stride=self.info.output_stride)
        nodes = output_to_input(A, nodes)
        found = (values >= self.threshold).cpu().numpy()
        pts = nodes.cpu().numpy().astype(np.float64)
        pts[~found] = np.nan
        vals = values.cpu().numpy().astype(np.float64)
        out = []
        for i in range(len(pts)):
            if not found[i].any():
                empty = np.zeros((0, len(self.node_names)))
                out.append(FramePrediction(i, np.zeros((0, *pts.shape[1:])), empty, np.zeros(0)))
                continue
            score = float(vals[i][found[i]].mean())
            out.append(FramePrediction(i, pts[i : i + 1], vals[i : i + 1], np.array([score])))
        return out

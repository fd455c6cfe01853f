"""Bottom-up prediction: every node of every animal on the (scaled) frame, grouped into
animals by the part affinity fields of the skeleton's edges (:mod:`.grouping`), or, for
bottom-up-ID, by the class maps of the labelled tracks (:mod:`.class_grouping`)."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..choices import ModelKind
from ..config import BottomUpConfig, BottomUpIdConfig, TrainingConfig
from ..errors import ConfigError
from ..models.folder import ModelFolder
from .class_grouping import group_by_class
from .grouping import GroupingSettings, group_instances
from .peaks import local_peaks
from .predictor import FramePrediction, Predictor, model_folder, output_to_input


def grouping_settings(folder: ModelFolder) -> GroupingSettings:
    """The grouping settings the model was trained with (SLEAP's defaults when its folder
    keeps no configuration)."""
    try:
        cfg = TrainingConfig.load(folder.config_file).model(ModelKind.BOTTOM_UP)
    except ConfigError:
        cfg = BottomUpConfig()
    return GroupingSettings(
        max_edge_length_ratio=cfg.max_edge_length_ratio,
        dist_penalty_weight=cfg.dist_penalty_weight,
        min_line_score=cfg.min_line_score,
        min_instance_peaks=cfg.min_instance_peaks,
    )


class BottomUpPredictor(Predictor):
    """A bottom-up model: node peaks above ``peak_threshold`` (default 0.2) grouped into
    animals; at most ``max_instances`` per frame (the highest grouping scores)."""

    def __init__(
        self,
        folder: str | os.PathLike | ModelFolder,
        device: str = "auto",
        peak_threshold: float | None = None,
        max_instances: int | None = None,
        precision: str = "auto",
    ):
        super().__init__(device, precision)
        folder = model_folder(folder)
        self.model, self.info = self._load(folder, ModelKind.BOTTOM_UP)
        self.node_names: list[str] = list(self.info.node_names)
        self.edges = [tuple(e) for e in self.info.edges]
        self.threshold = 0.2 if peak_threshold is None else peak_threshold
        self.max_instances = max_instances
        self.in_channels = self.info.in_channels
        self.settings = grouping_settings(folder)

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict the animals on a batch of frames ``(B, H, W[, C])`` uint8."""
        x = self._to_tensor(frames).to(self.device)
        maps, A = self._full_frames(self.model, self.info, x)
        n, stride = len(self.node_names), self.info.output_stride
        cms = maps[:, :n]
        pafs = maps[:, n:].reshape(len(maps), len(self.edges), 2, *maps.shape[-2:])
        sample, channel, points, values = local_peaks(cms, self.threshold, stride=stride)
        groups = group_instances(
            pafs, sample, channel, points, values, self.edges, n, stride, self.settings
        )
        A = A.cpu().double().numpy()
        out = []
        for i, (pts, vals, scores) in enumerate(groups):
            order = np.argsort(-scores, kind="stable")[: self.max_instances]
            pts, vals, scores = pts[order], vals[order], scores[order]
            if len(pts):
                pts = output_to_input(torch.from_numpy(A[i : i + 1]), torch.from_numpy(pts)[None])
                pts = pts[0].numpy()
            out.append(FramePrediction(i, pts, vals, scores))
        return out


class BottomUpIdPredictor(Predictor):
    """A bottom-up-ID model: node peaks above ``peak_threshold`` (default 0.2) grouped into
    one animal per track by the class maps; at most ``max_instances`` per frame (the
    highest identity scores). Each animal is named by its track."""

    def __init__(
        self,
        folder: str | os.PathLike | ModelFolder,
        device: str = "auto",
        peak_threshold: float | None = None,
        max_instances: int | None = None,
        precision: str = "auto",
    ):
        super().__init__(device, precision)
        folder = model_folder(folder)
        self.model, self.info = self._load(folder, ModelKind.BOTTOM_UP_ID)
        self.node_names: list[str] = list(self.info.node_names)
        self.class_names: list[str] = list(self.info.class_names)
        self.threshold = 0.2 if peak_threshold is None else peak_threshold
        self.max_instances = max_instances
        self.in_channels = self.info.in_channels
        try:
            cfg = TrainingConfig.load(folder.config_file).model(ModelKind.BOTTOM_UP_ID)
        except ConfigError:
            cfg = BottomUpIdConfig()
        self.min_instance_peaks = cfg.min_instance_peaks

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict the named animals on a batch of frames ``(B, H, W[, C])`` uint8."""
        x = self._to_tensor(frames).to(self.device)
        maps, A = self._full_frames(self.model, self.info, x)
        n, stride = len(self.node_names), self.info.output_stride
        sample, channel, points, values = local_peaks(maps[:, :n], self.threshold, stride=stride)
        groups = group_by_class(
            maps[:, n:], sample, channel, points, values, n, stride, self.min_instance_peaks
        )
        A = A.cpu().double().numpy()
        out = []
        for i, (classes, pts, vals, scores) in enumerate(groups):
            order = np.argsort(-scores, kind="stable")[: self.max_instances]
            classes, pts, vals, scores = classes[order], pts[order], vals[order], scores[order]
            if len(pts):
                pts = output_to_input(torch.from_numpy(A[i : i + 1]), torch.from_numpy(pts)[None])
                pts = pts[0].numpy()
            pred = FramePrediction(i, pts, vals, scores)
            pred.identities = [self.class_names[c] for c in classes]
            pred.identity_scores = scores.copy()
            out.append(pred)
        return out

"""Bottom-up prediction: every node of every animal on the (scaled) frame, grouped into
animals by the part affinity fields of the skeleton's edges (:mod:`.grouping`), or, for
bottom-up-ID, by the class maps of the labelled tracks (:mod:`.class_grouping`)."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..choices import ModelKind
from ..config import MODEL_CONFIGS, ModelConfig, TrainingConfig, min_instance_peaks
from ..errors import ConfigError
from ..models.folder import ModelFolder
from .class_grouping import group_by_class
from .grouping import GroupingSettings, group_instances
from .peaks import local_peaks
from .predictor import FramePrediction, Predictor, model_folder, output_to_input


def trained_section(folder: ModelFolder, kind: ModelKind) -> ModelConfig:
    """The settings model ``kind`` was trained with (the defaults when its folder keeps no
    configuration)."""
    try:
        return TrainingConfig.load(folder.config_file).model(kind)
    except ConfigError:
        return MODEL_CONFIGS[kind]()


def grouping_settings(folder: ModelFolder, n_nodes: int) -> GroupingSettings:
    """The grouping settings the model of ``n_nodes`` body parts was trained with (the
    defaults when its folder keeps no configuration)."""
    cfg = trained_section(folder, ModelKind.BOTTOM_UP)
    return GroupingSettings(
        max_edge_length_ratio=cfg.max_edge_length_ratio,
        dist_penalty_weight=cfg.dist_penalty_weight,
        min_line_score=cfg.min_line_score,
        min_instance_peaks=min_instance_peaks(cfg.min_instance_peaks, n_nodes),
    )


class _EveryAnimalPredictor(Predictor):
    """A model of every animal's nodes on the (scaled) frame: node peaks above
    ``peak_threshold`` (default 0.2) grouped into animals; at most ``max_instances`` per
    frame (the highest scores)."""

    kind: ModelKind

    def __init__(
        self,
        folder: str | os.PathLike | ModelFolder,
        device: str = "auto",
        peak_threshold: float | None = None,
        max_instances: int | None = None,
        precision: str = "auto",
    ):
        super().__init__(device, precision)
        self.folder = model_folder(folder)
        self.model, self.info = self._load(self.folder, self.kind)
        self.node_names: list[str] = list(self.info.node_names)
        self.threshold = 0.2 if peak_threshold is None else peak_threshold
        self.max_instances = max_instances
        self.in_channels = self.info.in_channels
        self._read_settings()

    def _read_settings(self) -> None:
        """Read what the subclass needs from the model folder beyond the model."""

    def _peaks(self, frames: np.ndarray):
        """The maps of a batch of frames, the affines to their input, and the node peaks
        (:func:`~.peaks.local_peaks`: sample, channel, points, values)."""
        x = self._to_tensor(frames).to(self.device)
        maps, A = self._full_frames(self.model, self.info, x)
        n, stride = len(self.node_names), self.info.output_stride
        return maps, A, local_peaks(maps[:, :n], self.threshold, stride=stride)

    def _frame(
        self, i: int, A: np.ndarray, pts, vals, scores
    ) -> tuple[FramePrediction, np.ndarray]:
        """Frame ``i``'s prediction, its animals best first (at most ``max_instances``)
        and on the frame; and the order taken of the animals given."""
        order = np.argsort(-scores, kind="stable")[: self.max_instances]
        pts, vals, scores = pts[order], vals[order], scores[order]
        if len(pts):
            pts = output_to_input(torch.from_numpy(A[i : i + 1]), torch.from_numpy(pts)[None])
            pts = pts[0].numpy()
        return FramePrediction(i, pts, vals, scores), order


class BottomUpPredictor(_EveryAnimalPredictor):
    """A bottom-up model: node peaks grouped into animals by the part affinity fields."""

    kind = ModelKind.BOTTOM_UP

    def _read_settings(self) -> None:
        self.edges = [tuple(e) for e in self.info.edges]
        self.settings = grouping_settings(self.folder, len(self.node_names))

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict the animals on a batch of frames ``(B, H, W[, C])`` uint8."""
        maps, A, (sample, channel, points, values) = self._peaks(frames)
        n, stride = len(self.node_names), self.info.output_stride
        pafs = maps[:, n:].reshape(len(maps), len(self.edges), 2, *maps.shape[-2:])
        groups = group_instances(
            pafs, sample, channel, points, values, self.edges, n, stride, self.settings
        )
        A = A.cpu().double().numpy()
        return [self._frame(i, A, *group)[0] for i, group in enumerate(groups)]


class BottomUpIdPredictor(_EveryAnimalPredictor):
    """A bottom-up-ID model: node peaks grouped into one animal per track by the class
    maps, each named by its track (the highest identity scores first)."""

    kind = ModelKind.BOTTOM_UP_ID

    def _read_settings(self) -> None:
        self.class_names = list(self.info.class_names)
        setting = trained_section(self.folder, self.kind).min_instance_peaks
        self.min_instance_peaks = min_instance_peaks(setting, len(self.node_names))

    @torch.inference_mode()
    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Predict the named animals on a batch of frames ``(B, H, W[, C])`` uint8."""
        maps, A, (sample, channel, points, values) = self._peaks(frames)
        n, stride = len(self.node_names), self.info.output_stride
        groups = group_by_class(
            maps[:, n:], sample, channel, points, values, n, stride, self.min_instance_peaks
        )
        A = A.cpu().double().numpy()
        out = []
        for i, (classes, *group) in enumerate(groups):
            pred, order = self._frame(i, A, *group)
            pred.identities = [self.class_names[c] for c in classes[order]]
            pred.identity_scores = pred.scores.copy()
            out.append(pred)
        return out

"""The models: what every model has, and each model's settings of its own.

Defaults follow SLEAP's baseline profiles. A model with settings of its own (the
centered-instance model's crop size) is a subclass of :class:`ModelConfig`;
:data:`MODEL_CONFIGS` says which part each model kind has and :data:`PIPELINE_MODELS`
which models each pipeline trains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..choices import ModelKind, PipelineKind
from .network import AugmentationConfig, BackboneConfig, OptimizationConfig
from .settings import Rule, Setting, part

# ----- models ------------------------------------------------------------------------------
INPUT_SCALING = Setting(
    "Input scaling",
    "Images are resized by this factor before the network sees them (1 = full resolution). "
    "Lower is faster and sees more context.",
    lo=0,
    hi=1,
    lo_open=True,
    step=0.05,
)
SIGMA = Setting(
    "Sigma",
    "Spread of the target blobs: larger is easier to learn, smaller separates close animals "
    "and body parts better.",
    unit="px",
    lo=0,
    hi=100,
    lo_open=True,
    step=0.5,
)


@dataclass
class ModelConfig:
    """What every model has: input scaling, target spread, backbone, training, augmentation."""

    kind: ClassVar[ModelKind]
    input_scaling: float = INPUT_SCALING.field(1.0)
    sigma: float = SIGMA.field(2.5)
    backbone: BackboneConfig = part(BackboneConfig)
    optimization: OptimizationConfig = part(OptimizationConfig)
    augmentation: AugmentationConfig = part(AugmentationConfig)


@dataclass
class CentroidConfig(ModelConfig):
    """The centroid model: finds every animal's anchor on scaled full frames."""

    kind: ClassVar[ModelKind] = ModelKind.CENTROID
    input_scaling: float = INPUT_SCALING.field(0.25)


@dataclass
class CenteredInstanceConfig(ModelConfig):
    """The centered-instance model: every node of the animal at the crop's centre."""

    kind: ClassVar[ModelKind] = ModelKind.CENTERED_INSTANCE
    backbone: BackboneConfig = part(lambda: BackboneConfig(filters=24, output_stride=4))
    crop_size: int | None = Setting(
        "Crop size",
        "Side of the square cut around each animal. Auto picks it from the largest labelled "
        "animal plus room for rotation.",
        unit="px",
        lo=1,
        hi=4096,
        none="auto",
        step=16,
    ).field(None)

    def rules(self) -> Rule:
        crop, stride = self.crop_size, self.backbone.max_stride
        if crop is None or stride < 1 or stride & (stride - 1):
            return
        if crop < stride:
            yield (
                "crop_size",
                (
                    f"{crop} px is smaller than max stride {stride}; use None (auto) or at least "
                    f"{stride}."
                ),
            )
        elif crop % stride:
            lo, hi = crop // stride * stride, math.ceil(crop / stride) * stride
            yield "crop_size", f"{crop} is not a multiple of max stride {stride}; use {lo} or {hi}."


@dataclass
class CenteredInstanceIdConfig(CenteredInstanceConfig):
    """Top-down-ID's instance model: the centered-instance model with a second head that
    names the animal at the crop's centre, one class per track of the labels (SLEAP's class
    vectors, trained with cross-entropy next to the confidence maps; here on the U-Net's
    output features, with its own convolutions and no gradient back into the U-Net)."""

    kind: ClassVar[ModelKind] = ModelKind.CENTERED_INSTANCE_ID
    class_loss_weight: float = Setting(
        "Class loss weight",
        "Weight of the identity (cross-entropy) loss in the loss that picks the best "
        "checkpoint and stops early, next to the confidence maps' 1 (whose loss is about "
        "1e-4 to 1e-3). The identity head learns from its own loss alone, so the weight "
        "does not change what the body-part maps learn.",
        lo=0,
        hi=100,
        lo_open=True,
        step=0.01,
    ).field(0.01)
    class_units: int = Setting(
        "Class units",
        "Channels of the identity head's two convolutions and units of its fully connected layers.",
        lo=1,
        hi=4096,
    ).field(64)
    class_layers: int = Setting(
        "Class layers",
        "Fully connected layers of the identity head before its output.",
        lo=0,
        hi=8,
    ).field(1)


MIN_INSTANCE_PEAKS = Setting(
    "Min instance peaks",
    "Animals assembled from fewer body parts than this are dropped. 0 (the default): a "
    "quarter of the skeleton's body parts, at most 4, so two or three body parts that "
    "failed to join their animal are not taken for another animal; 1 keeps every group "
    "(SLEAP's 0).",
    lo=0,
    hi=1000,
    zero="a quarter of the body parts, at most 4",
)

FRAGMENT_PEAKS = 4
"""The most body parts the default asks of an animal, whatever the skeleton: connections
that fail leave groups of two or three body parts, an animal grouped only in part more."""


def min_instance_peaks(value: int, n_nodes: int) -> int:
    """The min instance peaks a setting of ``value`` means for a skeleton of ``n_nodes``
    (0: a quarter of them, at most :data:`FRAGMENT_PEAKS`)."""
    return int(value) if value else min(FRAGMENT_PEAKS, n_nodes // 4)


TRAINING_CROP = Setting(
    "Training crop",
    "Train on squares of this side (on the original frame) cut around a labelled animal, "
    "instead of whole frames: far cheaper per step when the animals are small next to the "
    "frame. Predictions always see the whole frame.",
    unit="px",
    lo=16,
    hi=8192,
    none="whole frames",
    step=16,
)


@dataclass
class FullFrameModelConfig(ModelConfig):
    """A model that predicts on whole (scaled) frames and may train on crops of them."""

    training_crop: int | None = TRAINING_CROP.field(None)


@dataclass
class SingleInstanceConfig(FullFrameModelConfig):
    """The single-instance model: every node of the one animal on the (scaled) frame."""

    kind: ClassVar[ModelKind] = ModelKind.SINGLE_INSTANCE
    input_scaling: float = INPUT_SCALING.field(0.5)
    backbone: BackboneConfig = part(lambda: BackboneConfig(filters=24, output_stride=4))


@dataclass
class BottomUpConfig(FullFrameModelConfig):
    """The bottom-up model: every node of every animal and the part affinity fields of the
    skeleton's edges on the (scaled) frame, grouped into animals along the edges.

    Defaults are SLEAP's bottom-up profile (max stride 32, output stride 4, PAF loss weight
    1, max edge length ratio 0.25, distance penalty weight 1) but for sigma (5 px, 1.25
    map pixels at output stride 4: with SLEAP's 2.5 the targets are single map pixels and
    the maps stay too weak to find most nodes within a CPU budget, see the README); the
    PAFs share the confidence maps' output stride."""

    kind: ClassVar[ModelKind] = ModelKind.BOTTOM_UP
    input_scaling: float = INPUT_SCALING.field(1.0)
    sigma: float = SIGMA.field(5.0)
    backbone: BackboneConfig = part(lambda: BackboneConfig(max_stride=32, output_stride=4))
    paf_sigma: float = Setting(
        "Sigma for edges",
        "Half-width of the part affinity field around each edge (a Gaussian of the distance "
        "to it): larger is easier to learn, smaller keeps the edges of touching animals apart.",
        unit="px",
        lo=0,
        hi=100,
        lo_open=True,
        step=0.5,
    ).field(8.0)
    paf_loss_weight: float = Setting(
        "PAF loss weight",
        "Weight of the part affinity fields in the loss, next to the confidence maps' 1.",
        lo=0,
        hi=100,
        step=0.1,
    ).field(1.0)
    max_edge_length_ratio: float = Setting(
        "Max edge length ratio",
        "Connections longer than this fraction of the image's larger side are penalised "
        "when body parts are grouped.",
        lo=0,
        hi=1,
        lo_open=True,
        step=0.05,
    ).field(0.25)
    dist_penalty_weight: float = Setting(
        "Distance penalty weight",
        "How strongly connections longer than the max edge length are penalised.",
        lo=0,
        hi=100,
        step=0.1,
    ).field(1.0)
    min_line_score: float = Setting(
        "Min line score",
        "Two body parts are connected only when the PAF along the line between them agrees "
        "at least this much (-1 to 1).",
        lo=-1,
        hi=1,
        step=0.05,
    ).field(0.25)
    min_instance_peaks: int = MIN_INSTANCE_PEAKS.field(0)


@dataclass
class BottomUpIdConfig(FullFrameModelConfig):
    """The bottom-up-ID model: every node of every animal on the (scaled) frame, and a class
    map per track (SLEAP's: a Gaussian at every node of that track's animals); the nodes are
    grouped into animals by the track whose map is strongest at them, one node of each type
    per track (matched per node, as SLEAP's ``group_class_peaks``). Needs no edges.

    The backbone and sigma are the bottom-up model's; the class maps share the confidence
    maps' output stride and sigma."""

    kind: ClassVar[ModelKind] = ModelKind.BOTTOM_UP_ID
    input_scaling: float = INPUT_SCALING.field(1.0)
    sigma: float = SIGMA.field(5.0)
    backbone: BackboneConfig = part(lambda: BackboneConfig(max_stride=32, output_stride=4))
    class_loss_weight: float = Setting(
        "Class loss weight",
        "Weight of the class maps (one per track) in the loss, next to the confidence maps' 1.",
        lo=0,
        hi=100,
        lo_open=True,
        step=0.1,
    ).field(1.0)
    min_instance_peaks: int = MIN_INSTANCE_PEAKS.field(0)


MODEL_CONFIGS: dict[ModelKind, type[ModelConfig]] = {
    cls.kind: cls
    for cls in (
        CentroidConfig,
        CenteredInstanceConfig,
        CenteredInstanceIdConfig,
        SingleInstanceConfig,
        BottomUpConfig,
        BottomUpIdConfig,
    )
}
PIPELINE_MODELS: dict[PipelineKind, tuple[ModelKind, ...]] = {
    PipelineKind.TOP_DOWN: (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE),
    PipelineKind.SINGLE_INSTANCE: (ModelKind.SINGLE_INSTANCE,),
    PipelineKind.BOTTOM_UP: (ModelKind.BOTTOM_UP,),
    PipelineKind.TOP_DOWN_ID: (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE_ID),
    PipelineKind.BOTTOM_UP_ID: (ModelKind.BOTTOM_UP_ID,),
}

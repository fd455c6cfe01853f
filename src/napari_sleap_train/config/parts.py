"""The parts of a training configuration, each setting declared once.

Defaults follow SLEAP's baseline top-down profiles (see ``DESIGN.md``). A model part
(:class:`ModelConfig`) holds what every model has; a model with settings of its own (the
centered-instance model's crop size) is a subclass. The pipeline part says which
pipeline it is; :data:`PIPELINE_MODELS` says which models it trains.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..choices import (
    CameraView,
    Candidates,
    Matching,
    ModelKind,
    PipelineKind,
    Schedule,
    Similarity,
    TrackerMethod,
)
from .settings import Setting, part

Rule = Iterator[tuple[str, str]]

# ----- backbone --------------------------------------------------------------------------
MAX_STRIDE = Setting(
    "Max stride",
    "How far the network shrinks the image (a power of two). Larger sees more context "
    "(a larger receptive field) but needs inputs a multiple of it.",
    unit="px",
    lo=2,
    hi=128,
    power_of_two=True,
    options=(8, 16, 32, 64),
)
FILTERS = Setting(
    "Filters",
    "Feature channels of the first layer; more learn more but run slower.",
    lo=1,
    hi=256,
)
OUTPUT_STRIDE = Setting(
    "Output stride",
    "Resolution of the predicted maps relative to the input (1 = full).",
    lo=1,
    hi=64,
    power_of_two=True,
    options=(1, 2, 4, 8, 16),
)


@dataclass
class BackboneConfig:
    """The U-Net backbone."""

    max_stride: int = MAX_STRIDE.field(16)
    filters: int = FILTERS.field(16)
    filters_rate: float = Setting(
        "Filters rate",
        "Factor by which the channels grow at each down-sampling step.",
        lo=1.0,
        hi=4.0,
        step=0.5,
    ).field(2.0)
    output_stride: int = OUTPUT_STRIDE.field(2)
    convs_per_block: int = Setting(
        "Convolutions per block", "3×3 convolutions in each U-Net block.", lo=1, hi=8
    ).field(2)

    def rules(self) -> Rule:
        if self.output_stride > self.max_stride:
            yield (
                "output_stride",
                (f"{self.output_stride} is larger than max stride {self.max_stride}; lower it."),
            )


# ----- augmentation ------------------------------------------------------------------------
def _switch(label: str, help: str) -> Setting:
    return Setting(label, help)


def _grey(label: str, help: str) -> Setting:
    return Setting(label, help, unit="grey levels", lo=-255, hi=255, step=1)


@dataclass
class AugmentationConfig:
    """Augmentation applied identically to images and keypoints while training, with the
    fields and defaults of SLEAP's augmentation config."""

    rotation: bool = _switch("Rotate", "Randomly rotate training images (and labels).").field(True)
    rotation_deg: float = Setting(
        "Rotation ±°", "Largest random rotation.", unit="°", lo=0, hi=180, step=5
    ).field(15.0)
    scale: bool = _switch("Scale", "Randomly resize training images.").field(False)
    scale_min: float = Setting(
        "Scale min", "Smallest random scale factor.", lo=0, hi=4, lo_open=True, step=0.05
    ).field(0.9)
    scale_max: float = Setting(
        "Scale max", "Largest random scale factor.", lo=0, hi=4, lo_open=True, step=0.05
    ).field(1.1)
    translate: bool = _switch("Translate", "Randomly shift training images.").field(False)
    translate_px: float = Setting(
        "Translate ±px", "Largest random shift along each axis.", unit="px", lo=0, hi=1000
    ).field(0.0)
    uniform_noise: bool = _switch("Uniform noise", "Add uniform per-pixel noise.").field(False)
    uniform_noise_min: float = _grey("Uniform noise min", "Lowest noise value.").field(0.0)
    uniform_noise_max: float = _grey("Uniform noise max", "Highest noise value.").field(10.0)
    gaussian_noise: bool = _switch("Noise", "Add random Gaussian noise to training images.").field(
        False
    )
    gaussian_noise_mean: float = _grey("Noise mean", "Mean of the Gaussian noise.").field(0.0)
    gaussian_noise_std: float = Setting(
        "Noise std", "Spread of the Gaussian noise.", unit="grey levels", lo=0, hi=255
    ).field(1.0)
    contrast: bool = _switch("Contrast", "Randomly change image contrast.").field(False)
    contrast_min_gamma: float = Setting(
        "Contrast min gamma", "Smallest gamma.", lo=0, hi=10, lo_open=True
    ).field(0.5)
    contrast_max_gamma: float = Setting(
        "Contrast max gamma", "Largest gamma.", lo=0, hi=10, lo_open=True
    ).field(2.0)
    brightness: bool = _switch("Brightness", "Randomly change image brightness.").field(False)
    brightness_min: float = _grey("Brightness min", "Smallest brightness offset.").field(0.0)
    brightness_max: float = _grey("Brightness max", "Largest brightness offset.").field(10.0)
    hflip: bool = _switch(
        "Flip left/right", "Randomly mirror images, swapping left and right body parts."
    ).field(False)
    hflip_prob: float = Setting(
        "Flip probability", "Chance that a training image is mirrored.", lo=0, hi=1
    ).field(0.5)

    def rules(self) -> Rule:
        for low, high in (
            ("scale_min", "scale_max"),
            ("uniform_noise_min", "uniform_noise_max"),
            ("contrast_min_gamma", "contrast_max_gamma"),
            ("brightness_min", "brightness_max"),
        ):
            a, b = getattr(self, low), getattr(self, high)
            if a > b:
                yield low, f"needs {low} <= {high} ({a:g} > {b:g})."


# ----- optimisation ------------------------------------------------------------------------
@dataclass
class OptimizationConfig:
    """Optimiser, schedule and stopping rules of one model."""

    epochs: int = Setting(
        "Epochs", "Most passes of training; early stopping usually ends sooner.", lo=1, hi=100000
    ).field(200)
    batches_per_epoch: int = Setting(
        "Batches per epoch", "Training steps between two validations.", lo=1, hi=1000000
    ).field(200)
    batch_size: int = Setting(
        "Batch size",
        "Samples per training step. Lower it if memory runs out.",
        lo=1,
        hi=4096,
    ).field(4)
    learning_rate: float = Setting(
        "Learning rate",
        "Step size of the optimiser (Adam); the peak rate with the cosine schedule.",
        lo=0,
        hi=1,
        lo_open=True,
        step=1e-5,
    ).field(1e-4)
    validation_fraction: float = Setting(
        "Validation fraction",
        "Share of labelled frames held out to measure progress.",
        lo=0,
        hi=1,
        hi_open=True,
        step=0.05,
    ).field(0.1)
    early_stopping_patience: int = Setting(
        "Early stopping patience", "Epochs without improvement before training stops.", lo=1
    ).field(15)
    early_stopping_min_delta: float = Setting(
        "Early stopping min delta",
        "Smallest drop of the validation loss that counts as an improvement.",
        lo=0,
        hi=1,
        step=1e-8,
    ).field(1e-8)
    plateau_factor: float = Setting(
        "Plateau factor",
        "The learning rate is multiplied by this when validation stalls.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
    ).field(0.5)
    plateau_patience: int = Setting(
        "Plateau patience", "Epochs without improvement before the rate drops.", lo=1
    ).field(5)
    plateau_cooldown: int = Setting(
        "Plateau cooldown", "Epochs to wait after a drop before watching again.", lo=0
    ).field(3)
    plateau_min_lr: float = Setting(
        "Plateau minimum rate", "The rate never drops below this.", lo=0
    ).field(1e-8)
    time_limit_minutes: float | None = Setting(
        "Time limit",
        "Stop training this model after this many minutes, keeping its best checkpoint.",
        unit="min",
        lo=0,
        lo_open=True,
        none="no limit",
        step=0.5,
    ).field(None)
    schedule: Schedule = Setting(
        "Learning rate schedule",
        "plateau: halve the rate when validation stalls (SLEAP). cosine: warm up, then decay "
        "smoothly to the end of the time limit or the last epoch (fast CPU).",
    ).field(Schedule.PLATEAU)
    seed: int = Setting("Seed", "Random seed of the split, the order and augmentation.").field(0)


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


# ----- pipeline ----------------------------------------------------------------------------
@dataclass
class PipelineConfig:
    """Which pipeline, and how its models work together."""

    kind: PipelineKind = Setting(
        "Pipeline type",
        "top-down: a centroid model finds each animal, a centered-instance model its body "
        "parts in a crop around it. single-instance: one model finds the body parts of the "
        "one animal on the whole frame (one network instead of two). bottom-up: one model "
        "finds every body part on the whole frame and groups them into animals along the "
        "skeleton's edges (for animals in close contact; the skeleton needs edges). "
        "top-down-id: top-down whose instance model also names each animal as one of the "
        "labelled tracks (animals that can be told apart; every labelled instance needs its "
        "track). bottom-up-id: one model finds every body part and a map per track, and "
        "groups the body parts by the track they belong to (no edges needed).",
    ).field(PipelineKind.TOP_DOWN)
    camera_view: CameraView = Setting(
        "Camera view",
        "from above: the animals turn freely in the image, so training rotates images by "
        "up to ±180°; from the side: they stay upright, so each model's own rotation "
        "(±15° by default) applies; auto: from above when the labelled animals face every "
        "direction, else from the side.",
    ).field(CameraView.AUTO)
    anchor_part: str | None = Setting(
        "Anchor part",
        "The body part that marks where an animal is. None uses the centre of its visible "
        "nodes; a part that is always visible and central (e.g. thorax) is best.",
        none="centre of visible nodes",
    ).field(None)
    peak_threshold: float = Setting(
        "Peak threshold",
        "Lowest confidence (0-1) at which an animal or a body part counts as found.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
        step=0.05,
    ).field(0.2)
    max_instances: int | None = Setting(
        "Max instances",
        "Keep at most this many animals per frame (the highest scores).",
        lo=1,
        none="no limit",
    ).field(None)
    time_budget_minutes: float | None = Setting(
        "Time budget",
        "Train every model for at most this many minutes in total; the centroid model gets "
        "about a third, the instance model the rest. Best checkpoints are kept.",
        unit="min",
        lo=0,
        lo_open=True,
        none="no budget",
        step=1,
    ).field(None)
    centroid_time_share: float = Setting(
        "Centroid time share",
        "Share of the time budget for the centroid model.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
    ).field(0.35)


# ----- tracking ----------------------------------------------------------------------------
@dataclass
class TrackingConfig:
    """SLEAP's tracker: how predicted instances keep their identity from frame to frame."""

    method: TrackerMethod = Setting(
        "Tracker method",
        "simple compares each animal with the tracks' earlier instances; flow first shifts "
        "those instances into the new frame by optical flow (better for fast animals or "
        "skipped frames, a little slower); none leaves predictions without tracks.",
    ).field(TrackerMethod.SIMPLE)
    max_tracks: int | None = Setting(
        "Max tracks",
        "At most this many tracks (set it to the number of animals). Once reached, an "
        "animal that matches no track is left untracked instead of starting a new one.",
        lo=1,
        none="no limit",
    ).field(None)
    similarity: Similarity = Setting(
        "Similarity",
        "centroid: distance of the animals' centres, scaled to their size (robust to "
        "turning animals and skipped frames); oks: node by node, scaled to the size; "
        "instance: SLEAP's, node distances in pixels (only for consecutive frames); iou: "
        "overlap of the bounding boxes.",
    ).field(Similarity.CENTROID)
    size_cue: bool = Setting(
        "Compare body sizes",
        "Multiply the similarity by how alike the bodies' sizes are (their node-to-node "
        "distances), so animals of different sizes are not confused after a fast move. For "
        "animals of one size it changes nothing.",
    ).field(True)
    matching: Matching = Setting(
        "Match",
        "hungarian: the best assignment of all animals of a frame at once; greedy: the "
        "most similar pair first.",
    ).field(Matching.HUNGARIAN)
    window: int = Setting(
        "Track window",
        "How many earlier frames (or instances per track) a new instance is compared with.",
        unit="frames",
        lo=1,
        hi=1000,
    ).field(5)
    candidates: Candidates = Setting(
        "Candidates",
        "window: the instances of the last frames; queues: the last instances of every "
        "track, so a track hidden for a while is found again.",
    ).field(Candidates.AUTO)
    robust_quantile: float = Setting(
        "Robust quantile",
        "Quantile of the similarities to a track's candidates that counts (1 = the best "
        "one); lower values ignore a single lucky candidate.",
        lo=0,
        hi=1,
        lo_open=True,
        step=0.05,
    ).field(1.0)
    min_similarity: float = Setting(
        "Min similarity",
        "An animal less similar than this to every track starts a new track (or stays "
        "untracked at max tracks) instead of a forced match.",
        lo=0,
        hi=1,
        hi_open=True,
        step=0.05,
    ).field(0.0)
    connect_breaks: bool = Setting(
        "Connect single track breaks",
        "When exactly one track ends and exactly one new track starts right after it, "
        "join them into one.",
    ).field(True)
    target_instances: int | None = Setting(
        "Target instance count",
        "Before tracking, keep at most this many predicted animals per frame: overlapping "
        "duplicates first, then the lowest scores go.",
        lo=1,
        none="keep all",
    ).field(None)
    cull_iou: float = Setting(
        "Cull overlap",
        "With a target count, an animal whose box overlaps a better-scored one by more "
        "than this IoU is dropped first.",
        lo=0,
        hi=1,
        lo_open=True,
        step=0.05,
    ).field(0.8)
    flow_window: int = Setting(
        "Flow window",
        "Side of the optical-flow search window (flow tracker).",
        unit="px",
        lo=3,
        hi=201,
    ).field(21)
    flow_levels: int = Setting(
        "Flow pyramid levels",
        "Image pyramid levels of the optical flow; more follow larger motion.",
        lo=0,
        hi=8,
    ).field(3)

    @property
    def enabled(self) -> bool:
        """Whether predictions get tracks."""
        return TrackerMethod(self.method) is not TrackerMethod.NONE

    @property
    def uses_queues(self) -> bool:
        """Per-track queues (explicitly, or by default when the track count is capped)."""
        kind = Candidates(self.candidates)
        return kind is Candidates.QUEUES or (
            kind is Candidates.AUTO and self.max_tracks is not None
        )

    def rules(self) -> Rule:
        if self.flow_window % 2 == 0:
            yield "flow_window", f"{self.flow_window} is even; use {self.flow_window + 1}."

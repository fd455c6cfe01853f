"""Training configuration: SLEAP's top-down defaults, JSON round trip, validation.

Defaults follow SLEAP's baseline top-down profiles (see ``DESIGN.md``): a centroid model on
1/4-scale frames and a centered-instance model on full-resolution crops.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
SCHEDULES = ("plateau", "cosine")
PRESETS = ("fast-cpu", "sleap")


class ConfigError(ValueError):
    """One or more settings are invalid; ``problems`` maps field paths to messages."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("\n".join(f"{k}: {v}" for k, v in problems.items()))


@dataclass
class BackboneConfig:
    """U-Net backbone."""

    max_stride: int = 16
    filters: int = 16
    filters_rate: float = 2.0
    output_stride: int = 2
    convs_per_block: int = 2


@dataclass
class AugmentationConfig:
    """Augmentation applied identically to images and keypoints while training."""

    rotation: bool = True
    rotation_deg: float = 15.0
    scale: bool = False
    scale_min: float = 0.9
    scale_max: float = 1.1
    translate: bool = False
    translate_px: float = 0.0
    uniform_noise: bool = False
    uniform_noise_min: float = 0.0
    uniform_noise_max: float = 10.0
    gaussian_noise: bool = False
    gaussian_noise_mean: float = 0.0
    gaussian_noise_std: float = 1.0
    contrast: bool = False
    contrast_min_gamma: float = 0.5
    contrast_max_gamma: float = 2.0
    brightness: bool = False
    brightness_min: float = 0.0
    brightness_max: float = 10.0
    hflip: bool = False
    hflip_prob: float = 0.5


@dataclass
class OptimizationConfig:
    """Optimiser, schedule and stopping rules of one model."""

    epochs: int = 200
    batches_per_epoch: int = 200
    batch_size: int = 4
    learning_rate: float = 1e-4
    validation_fraction: float = 0.1
    early_stopping_patience: int = 15
    early_stopping_min_delta: float = 1e-8
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    plateau_cooldown: int = 3
    plateau_min_lr: float = 1e-8
    time_limit_minutes: float | None = None
    schedule: str = "plateau"
    seed: int = 0


@dataclass
class CentroidConfig:
    """The centroid model: finds every animal's anchor on scaled full frames."""

    input_scaling: float = 0.25
    sigma: float = 2.5
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    optimization: OptimizationConfig = field(default_factory=OptimizationConfig)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)


@dataclass
class CenteredInstanceConfig:
    """The centered-instance model: every node of the animal at the crop's centre."""

    input_scaling: float = 1.0
    sigma: float = 2.5
    crop_size: int | None = None
    backbone: BackboneConfig = field(
        default_factory=lambda: BackboneConfig(filters=24, output_stride=4)
    )
    optimization: OptimizationConfig = field(default_factory=OptimizationConfig)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)


@dataclass
class PipelineConfig:
    """How the two models work together."""

    kind: str = "top-down"
    anchor_part: str | None = None
    peak_threshold: float = 0.2
    max_instances: int | None = None
    time_budget_minutes: float | None = None
    centroid_time_share: float = 0.35


@dataclass
class TrainingConfig:
    """Everything needed to train (and later predict with) a top-down pipeline."""

    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    centroid: CentroidConfig = field(default_factory=CentroidConfig)
    centered_instance: CenteredInstanceConfig = field(default_factory=CenteredInstanceConfig)
    device: str = "auto"
    precision: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary with the format version."""
        return {"format_version": FORMAT_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Build from a dictionary; unknown keys are an error naming them."""
        data = dict(data)
        version = data.pop("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ConfigError(
                {
                    "format_version": f"{version} is newer than this version reads "
                    f"({FORMAT_VERSION}); update napari-sleap-train."
                }
            )
        return _from_dict(cls, data, "")

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON atomically."""
        path = Path(path)
        write_json_atomic(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainingConfig:
        """Read a JSON file written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError({"file": f"{path} does not exist."}) from exc
        except json.JSONDecodeError as exc:
            raise ConfigError({"file": f"{path} is not valid JSON ({exc})."}) from exc
        return cls.from_dict(data)

    def problems(self) -> dict[str, str]:
        """Every invalid setting, as ``{field path: message saying what to change}``."""
        out: dict[str, str] = {}
        if self.pipeline.kind != "top-down":
            out["pipeline.kind"] = f"'{self.pipeline.kind}' is not supported; use 'top-down'."
        if not 0 < self.pipeline.peak_threshold < 1:
            out["pipeline.peak_threshold"] = "must be between 0 and 1 (default 0.2)."
        if self.pipeline.max_instances is not None and self.pipeline.max_instances < 1:
            out["pipeline.max_instances"] = "must be at least 1, or None for no limit."
        budget = self.pipeline.time_budget_minutes
        if budget is not None and budget <= 0:
            out["pipeline.time_budget_minutes"] = "must be positive, or None for no budget."
        if not 0 < self.pipeline.centroid_time_share < 1:
            out["pipeline.centroid_time_share"] = "must be between 0 and 1 (default 0.35)."
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith(
            "cuda:"
        ):
            out["device"] = f"'{self.device}' is unknown; use auto, cpu, cuda or mps."
        if self.precision not in ("auto", "fp32", "bf16", "fp16", "amp"):
            out["precision"] = (
                f"'{self.precision}' is unknown; use auto, amp (mixed), fp32, bf16 or fp16."
            )
        for name in ("centroid", "centered_instance"):
            model = getattr(self, name)
            out.update(_model_problems(name, model))
        crop = self.centered_instance.crop_size
        stride = self.centered_instance.backbone.max_stride
        if crop is not None and _is_power_of_two(stride):
            if crop < stride:
                out["centered_instance.crop_size"] = (
                    f"{crop} px is smaller than max stride {stride}; use None (auto) or at "
                    f"least {stride}."
                )
            elif crop % stride:
                lo, hi = crop // stride * stride, math.ceil(crop / stride) * stride
                out["centered_instance.crop_size"] = (
                    f"{crop} is not a multiple of max stride {stride}; use {lo} or {hi}."
                )
        return out

    def validate(self) -> TrainingConfig:
        """Raise :class:`ConfigError` listing every invalid setting; return self otherwise."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self


def _is_power_of_two(n: int) -> bool:
    return isinstance(n, int) and n >= 1 and (n & (n - 1)) == 0


def _model_problems(name: str, model: CentroidConfig | CenteredInstanceConfig) -> dict[str, str]:
    out: dict[str, str] = {}
    b, o, a = model.backbone, model.optimization, model.augmentation
    if not _is_power_of_two(b.max_stride) or b.max_stride < 2:
        out[f"{name}.backbone.max_stride"] = (
            f"{b.max_stride} is not a power of two; use 8, 16 or 32."
        )
    if not _is_power_of_two(b.output_stride):
        out[f"{name}.backbone.output_stride"] = (
            f"{b.output_stride} is not a power of two; use 1, 2, 4 or 8."
        )
    elif _is_power_of_two(b.max_stride) and b.output_stride > b.max_stride:
        out[f"{name}.backbone.output_stride"] = (
            f"{b.output_stride} is larger than max stride {b.max_stride}; lower it."
        )
    if b.filters < 1:
        out[f"{name}.backbone.filters"] = "must be at least 1 (default 16 or 24)."
    if b.filters_rate <= 0:
        out[f"{name}.backbone.filters_rate"] = "must be positive (default 2)."
    if b.convs_per_block < 1:
        out[f"{name}.backbone.convs_per_block"] = "must be at least 1 (default 2)."
    if not 0 < model.input_scaling <= 1:
        out[f"{name}.input_scaling"] = (
            f"{model.input_scaling} is outside (0, 1]; use e.g. 0.25 or 0.5 to shrink frames, "
            "1.0 for full resolution."
        )
    if model.sigma <= 0:
        out[f"{name}.sigma"] = "must be positive (default 2.5 px)."
    if o.batch_size < 1:
        out[f"{name}.optimization.batch_size"] = f"{o.batch_size} < 1; use at least 1 (default 4)."
    if o.epochs < 1:
        out[f"{name}.optimization.epochs"] = "must be at least 1."
    if o.batches_per_epoch < 1:
        out[f"{name}.optimization.batches_per_epoch"] = "must be at least 1 (default 200)."
    if o.learning_rate <= 0:
        out[f"{name}.optimization.learning_rate"] = "must be positive (default 1e-4)."
    if not 0 <= o.validation_fraction < 1:
        out[f"{name}.optimization.validation_fraction"] = "must be in [0, 1) (default 0.1)."
    if o.early_stopping_patience < 1:
        out[f"{name}.optimization.early_stopping_patience"] = "must be at least 1 (default 15)."
    if o.time_limit_minutes is not None and o.time_limit_minutes <= 0:
        out[f"{name}.optimization.time_limit_minutes"] = "must be positive, or None."
    if o.schedule not in SCHEDULES:
        out[f"{name}.optimization.schedule"] = (
            f"'{o.schedule}' is unknown; use {' or '.join(SCHEDULES)}."
        )
    if a.scale and not 0 < a.scale_min <= a.scale_max:
        out[f"{name}.augmentation.scale_min"] = "needs 0 < scale_min <= scale_max."
    if a.rotation and not 0 <= a.rotation_deg <= 180:
        out[f"{name}.augmentation.rotation_deg"] = "must be between 0 and 180 degrees."
    return out


def _from_dict(cls: type, data: dict[str, Any], prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(
            {f"{prefix}{k}": "unknown setting; check its spelling." for k in sorted(unknown)}
        )
    kwargs = {}
    for key, value in data.items():
        sub = _DATACLASS_FIELDS.get((cls, key))
        if sub is not None and isinstance(value, dict):
            kwargs[key] = _from_dict(sub, value, f"{prefix}{key}.")
        else:
            kwargs[key] = value
    return cls(**kwargs)


_DATACLASS_FIELDS: dict[tuple[type, str], type] = {
    (TrainingConfig, "pipeline"): PipelineConfig,
    (TrainingConfig, "centroid"): CentroidConfig,
    (TrainingConfig, "centered_instance"): CenteredInstanceConfig,
    (CentroidConfig, "backbone"): BackboneConfig,
    (CentroidConfig, "optimization"): OptimizationConfig,
    (CentroidConfig, "augmentation"): AugmentationConfig,
    (CenteredInstanceConfig, "backbone"): BackboneConfig,
    (CenteredInstanceConfig, "optimization"): OptimizationConfig,
    (CenteredInstanceConfig, "augmentation"): AugmentationConfig,
}


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".json", prefix=f".{path.stem}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def preset(name: str) -> TrainingConfig:
    """A named starting configuration.

    ``sleap``: SLEAP's baseline top-down settings (200 batches per epoch, learning rate 1e-4
    reduced on plateaus, no time budget), the right choice on a GPU. ``fast-cpu``: the same
    networks trained for the least wall time on a CPU: a 10-minute total budget split between
    the models, 50 batches per epoch, a 1e-3 peak learning rate with warm-up and cosine decay
    over each model's share of the budget (measured in ``benchmarks/bench_time_to_accuracy.py``).
    """
    config = TrainingConfig()
    if name == "sleap":
        return config
    if name != "fast-cpu":
        raise ConfigError({"preset": f"'{name}' is unknown; use {' or '.join(PRESETS)}."})
    config.pipeline.time_budget_minutes = 10.0
    for section in (config.centroid, config.centered_instance):
        section.optimization.learning_rate = 1e-3
        section.optimization.batches_per_epoch = 50
        section.optimization.schedule = "cosine"
    return config


def default_preset() -> str:
    """``fast-cpu`` when no GPU (CUDA or Apple MPS) is found, else ``sleap``."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    if torch.cuda.is_available() or (mps is not None and mps.is_available()):
        return "sleap"
    return "fast-cpu"


def default_config() -> TrainingConfig:
    """The configuration a new run starts from on this machine (see :func:`default_preset`)."""
    return preset(default_preset())

"""Training configuration: every setting declared once, JSON round trip, validation.

A :class:`TrainingConfig` says which pipeline it is (``pipeline.kind``) and holds one part
per model of that pipeline in ``models`` (for top-down: ``centroid``, then
``centered_instance``), plus the device and precision. Each setting is declared once with
its default, range, unit and help text (:mod:`.network`, :mod:`.models`,
:mod:`.pipeline`, :mod:`.tracking`); validation and the docks' forms
are derived from those declarations (:mod:`.settings`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..choices import ModelKind, PipelineKind, Precision, Preset, Schedule
from ..errors import ConfigError
from .models import (
    MODEL_CONFIGS,
    PIPELINE_MODELS,
    BottomUpConfig,
    BottomUpIdConfig,
    CenteredInstanceConfig,
    CenteredInstanceIdConfig,
    CentroidConfig,
    FullFrameModelConfig,
    ModelConfig,
    SingleInstanceConfig,
    min_instance_peaks,
)
from .network import AugmentationConfig, BackboneConfig, OptimizationConfig
from .pipeline import PipelineConfig
from .settings import Setting, build, count_unset, part, problems, to_jsonable
from .tracking import TrackingConfig

FORMAT_VERSION = 2
DEVICES = ("auto", "cpu", "cuda", "mps")

__all__ = [
    "FORMAT_VERSION",
    "MODEL_CONFIGS",
    "PIPELINE_MODELS",
    "AugmentationConfig",
    "BackboneConfig",
    "BottomUpConfig",
    "BottomUpIdConfig",
    "CenteredInstanceConfig",
    "CenteredInstanceIdConfig",
    "CentroidConfig",
    "ConfigError",
    "FullFrameModelConfig",
    "ModelConfig",
    "OptimizationConfig",
    "PipelineConfig",
    "SingleInstanceConfig",
    "TrackingConfig",
    "TrainingConfig",
    "default_config",
    "default_models",
    "default_preset",
    "min_instance_peaks",
    "pipeline_for_counts",
    "preset",
]


_TWINS = {
    ModelKind.CENTERED_INSTANCE: ModelKind.CENTERED_INSTANCE_ID,
    ModelKind.CENTERED_INSTANCE_ID: ModelKind.CENTERED_INSTANCE,
    ModelKind.BOTTOM_UP: ModelKind.BOTTOM_UP_ID,
    ModelKind.BOTTOM_UP_ID: ModelKind.BOTTOM_UP,
}
"""Models that differ only by a head: switching pipelines carries their shared settings."""


def _shared_settings(source: ModelConfig, target: ModelConfig) -> ModelConfig:
    """``target`` with every setting it shares with ``source`` copied from it."""
    names = {f.name for f in dataclasses.fields(target)} & {
        f.name for f in dataclasses.fields(source)
    }
    for name in names:
        setattr(target, name, copy.deepcopy(getattr(source, name)))
    return target


def default_models(kind: PipelineKind = PipelineKind.TOP_DOWN) -> dict[ModelKind, ModelConfig]:
    """A default part for every model of a pipeline, in training order."""
    return {model: MODEL_CONFIGS[model]() for model in PIPELINE_MODELS.get(kind, ())}


@dataclass
class TrainingConfig:
    """Everything needed to train (and later predict with) a pipeline."""

    pipeline: PipelineConfig = part(PipelineConfig)
    models: dict[ModelKind, ModelConfig] = field(default_factory=default_models)
    tracking: TrackingConfig = part(TrackingConfig)
    device: str = Setting(
        "Device", "auto picks a CUDA GPU, then Apple MPS, then the CPU.", options=DEVICES
    ).field("auto")
    precision: Precision = Setting(
        "Precision",
        "auto: bfloat16 on CPUs that compute it natively, else float32; amp: mixed precision "
        "on GPUs.",
    ).field(Precision.AUTO)

    def model(self, kind: ModelKind | str) -> ModelConfig:
        """The part of model ``kind``."""
        try:
            return self.models[ModelKind(kind)]
        except (KeyError, ValueError):
            raise ConfigError(
                {"models": f"no {kind} model in this {self.pipeline.kind.value} configuration."}
            ) from None

    @property
    def crop_model(self) -> ModelKind | None:
        """The model that sees crops around each animal (top-down's second), if any."""
        return next((kind for kind in self.models if ModelKind(kind).crops), None)

    def rules(self):
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            yield "device", f"'{self.device}' is unknown; use auto, cpu, cuda or mps."
        kind = PipelineKind(self.pipeline.kind)
        wanted = PIPELINE_MODELS.get(kind)
        if wanted is not None and tuple(self.models) != wanted:
            names = ", ".join(k.value for k in wanted)
            yield "models", f"a {kind.value} pipeline trains {names}, in this order."

    def for_pipeline(self, kind: PipelineKind | str) -> TrainingConfig:
        """A copy for pipeline ``kind``: the same pipeline, tracking and device settings;
        models it shares with this one keep their parts, new ones start from their defaults
        with the training schedule (optimization) of this configuration's first model."""
        kind = PipelineKind(kind)
        if kind is PipelineKind(self.pipeline.kind):
            return copy.deepcopy(self)
        out = copy.deepcopy(self)
        out.pipeline.kind = kind
        schedule = next(iter(self.models.values())).optimization if self.models else None
        models = {}
        for model in PIPELINE_MODELS.get(kind, ()):
            twin = _TWINS.get(model)
            if model in self.models:
                models[model] = copy.deepcopy(self.models[model])
            elif twin in self.models:
                models[model] = _shared_settings(self.models[twin], MODEL_CONFIGS[model]())
            else:
                models[model] = MODEL_CONFIGS[model]()
                if schedule is not None:
                    models[model].optimization = copy.deepcopy(schedule)
        out.models = models
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary with the format version."""
        return {"format_version": FORMAT_VERSION, **to_jsonable(self)}

    @classmethod
    def from_dict(cls, data: Any, base: TrainingConfig | None = None) -> TrainingConfig:
        """Build from a dictionary (this or an earlier format version).

        Missing settings keep their defaults (or the values of ``base``); every unknown
        key, wrong type or value out of range is reported at once in a
        :class:`ConfigError`.
        """
        if not isinstance(data, dict):
            raise ConfigError({"file": f"must hold a set of settings ({{...}}), not {data!r}."})
        data = dict(data)
        version = data.pop("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ConfigError(
                {
                    "format_version": f"{version} is newer than this version reads "
                    f"({FORMAT_VERSION}); update napari-sleap-train."
                }
            )
        if "models" not in data:  # format 1: one top-level part per model
            models = {k.value: data.pop(k.value) for k in ModelKind if k.value in data}
            data["models"] = models
        model_data = data.pop("models")
        config, found = build(cls, data, base=base)
        base_models = base.models if base is not None else None
        config.models, more = _build_models(config.pipeline.kind, model_data, base_models)
        found.update(more)
        if found:
            raise ConfigError(found)
        return config

    def to_json(self) -> str:
        """The JSON text :meth:`save` writes."""
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON atomically."""
        path = Path(path)
        write_text_atomic(path, self.to_json())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, base: TrainingConfig | None = None) -> TrainingConfig:
        """Read a JSON file written by :meth:`save` (settings it leaves out take their
        defaults, or the values of ``base``)."""
        return cls.from_dict(read_json(path), base)

    @staticmethod
    def unset_settings(data: Any) -> int:
        """How many settings a configuration's JSON data leaves out (format 2 or 1)."""
        if not isinstance(data, dict):
            return 0
        models = data.get("models", {k.value: data[k.value] for k in ModelKind if k.value in data})
        pipeline = data.get("pipeline", {})
        try:
            kind = PipelineKind(pipeline.get("kind", PipelineKind.TOP_DOWN))
        except (AttributeError, ValueError):  # reported by from_dict
            kind = PipelineKind.TOP_DOWN
        n = count_unset(PipelineConfig, pipeline)
        n += sum(name not in data for name in ("device", "precision"))
        for model in PIPELINE_MODELS.get(kind, ()):
            part = models.get(model.value, {}) if isinstance(models, dict) else {}
            n += count_unset(MODEL_CONFIGS[model], part)
        return n

    def problems(self) -> dict[str, str]:
        """Every invalid setting, as ``{field path: message saying what to change}``."""
        return problems(self)

    def validate(self) -> TrainingConfig:
        """Raise :class:`ConfigError` listing every invalid setting; return self otherwise."""
        found = self.problems()
        if found:
            raise ConfigError(found)
        return self


def read_json(path: str | os.PathLike) -> Any:
    """The JSON data of a configuration file, with a clear error when it has none."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError({"file": f"{path} does not exist."}) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError({"file": f"{path} is not valid JSON ({exc})."}) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError({"file": f"{path} could not be read ({exc})."}) from exc


def _build_models(
    kind: PipelineKind, data: Any, base: dict[ModelKind, ModelConfig] | None = None
) -> tuple[dict[ModelKind, ModelConfig], dict[str, str]]:
    """The model parts of a pipeline from JSON (missing parts get their defaults, or those
    of ``base``)."""
    if not isinstance(data, dict):
        return default_models(kind), {"models": f"must be a set of model parts, not {data!r}."}
    found: dict[str, str] = {}
    names = {k.value for k in PIPELINE_MODELS.get(kind, ())}
    for key in data:
        if key not in names:
            found[f"models.{key}"] = f"not a model of the {kind.value} pipeline."
    models: dict[ModelKind, ModelConfig] = {}
    for model in PIPELINE_MODELS.get(kind, ()):
        cls = MODEL_CONFIGS[model]
        value = data.get(model.value, {})
        inner = base.get(model) if base is not None else None
        models[model], more = build(cls, value, f"models.{model.value}.", inner)
        found.update(more)
    return models, found


def preset(name: Preset | str) -> TrainingConfig:
    """A named starting configuration.

    ``sleap``: SLEAP's baseline top-down settings (200 batches per epoch, learning rate 1e-4
    reduced on plateaus, no time budget), the right choice on a GPU. ``fast-cpu``: the same
    networks trained for the least wall time on a CPU: a 10-minute total budget split between
    the models, 50 batches per epoch, a 1e-3 peak learning rate with warm-up and cosine decay
    over each model's share of the budget (measured in ``benchmarks/bench_time_to_accuracy.py``).
    """
    try:
        name = Preset.parse(name)
    except ValueError as exc:
        raise ConfigError({"preset": str(exc)}) from None
    config = TrainingConfig()
    if name is Preset.SLEAP:
        return config
    config.pipeline.time_budget_minutes = 10.0
    for section in config.models.values():
        section.optimization.learning_rate = 1e-3
        section.optimization.batches_per_epoch = 50
        section.optimization.schedule = Schedule.COSINE
    return config


def pipeline_for_counts(frames: int, instances: int) -> tuple[PipelineKind, str]:
    """The pipeline labels call for, from their numbers of labelled frames and instances,
    and why: single-instance when no labelled frame holds more than one animal (the only
    way there are more instances than frames), top-down otherwise."""
    if not frames:
        return PipelineKind.TOP_DOWN, "no labelled frame yet"
    if instances <= frames:
        return PipelineKind.SINGLE_INSTANCE, "no labelled frame holds more than one animal"
    return PipelineKind.TOP_DOWN, "labelled frames hold several animals"


def default_preset() -> Preset:
    """``fast-cpu`` when no GPU (CUDA or Apple MPS) is found, else ``sleap``."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    if torch.cuda.is_available() or (mps is not None and mps.is_available()):
        return Preset.SLEAP
    return Preset.FAST_CPU


def default_config() -> TrainingConfig:
    """The configuration a new run starts from on this machine (see :func:`default_preset`)."""
    return preset(default_preset())

"""Model folders and run folders: their layout, metadata, weights and logs in one place.

A model folder holds ``training_config.json``, ``model_info.json`` (:class:`ModelInfo`),
``best.pt``, ``last.pt`` and ``training_log.csv``, all written atomically. Weights are
plain state dicts loaded with ``torch.load(..., weights_only=True)``, so a folder received
from someone else cannot run code when it is opened. A run folder holds one model folder
per model of its pipeline (``centroid/``, ``centered_instance/``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_path, write_json_atomic, write_text_atomic
from ..choices import ModelKind, PipelineKind
from ..errors import ModelFolderError
from .spec import UNetSpec

if TYPE_CHECKING:
    from .unet import ConfmapModel

INFO_VERSION = 2
LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "learning_rate", "seconds")
RUN_PREFIX = "run_"
MEMBERS = "members"
"""Where an ensemble's further members live in its run folder."""


@dataclass
class ModelInfo:
    """What prediction needs to know about a trained model."""

    kind: ModelKind
    node_names: list[str]
    flip_index: list[int]
    anchor_part: str | None
    input_scaling: float
    sigma: float
    in_channels: int
    n_maps: int
    input_hw: tuple[int, int]
    frame_hw: tuple[int, int]
    backbone: UNetSpec
    crop_size: int | None = None
    edges: list[tuple[int, int]] = field(default_factory=list)  # bottom-up: PAF channels
    class_names: list[str] = field(default_factory=list)  # ID models: the tracks they name
    class_units: int = 64
    class_layers: int = 1
    pipeline: PipelineKind = PipelineKind.TOP_DOWN
    # the labelled frames held out for validation: (video index, video file name, frame)
    validation_frames: list[tuple[int, str, int]] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_loss: float | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def max_stride(self) -> int:
        return self.backbone.max_stride

    @property
    def output_stride(self) -> int:
        return self.backbone.output_stride

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the format version."""
        data = dataclasses.asdict(self)
        data.update(kind=self.kind.value, pipeline=self.pipeline.value)
        data.update(input_hw=list(self.input_hw), frame_hw=list(self.frame_hw))
        return {"format_version": INFO_VERSION, **data}

    @classmethod
    def from_dict(cls, data: Any, where: Path) -> ModelInfo:
        """Read ``model_info.json`` data (this or the first format); a missing or wrongly
        typed entry raises :class:`ModelFolderError` naming it."""
        if not isinstance(data, dict):
            raise ModelFolderError(f"{where} does not describe a model; train again.")
        try:
            return cls(
                kind=ModelKind(data["kind"]),
                node_names=[str(n) for n in data["node_names"]],
                flip_index=[int(i) for i in data["flip_index"]],
                anchor_part=data.get("anchor_part"),
                input_scaling=float(data["input_scaling"]),
                sigma=float(data["sigma"]),
                in_channels=int(data["in_channels"]),
                n_maps=int(data["n_maps"]),
                input_hw=_pair(data["input_hw"]),
                frame_hw=_pair(data["frame_hw"]),
                backbone=UNetSpec(**data["backbone"]),
                crop_size=None if data.get("crop_size") is None else int(data["crop_size"]),
                edges=[_pair(e) for e in data.get("edges", [])],
                class_names=[str(n) for n in data.get("class_names", [])],
                class_units=int(data.get("class_units", 64)),
                class_layers=int(data.get("class_layers", 1)),
                pipeline=PipelineKind(data.get("pipeline", PipelineKind.TOP_DOWN.value)),
                validation_frames=[
                    (int(v), str(name), int(f)) for v, name, f in data.get("validation_frames", [])
                ],
                best_epoch=data.get("best_epoch"),
                best_val_loss=data.get("best_val_loss"),
                versions=dict(data.get("versions", {})),
            )
        except KeyError as exc:
            raise ModelFolderError(
                f"{where} lacks {exc.args[0]!r}: it was not written by a complete training "
                "run. Train again."
            ) from exc
        except (TypeError, ValueError) as exc:
            raise ModelFolderError(f"{where} holds a value of the wrong kind ({exc}).") from exc


def _pair(value: Any) -> tuple[int, int]:
    a, b = value
    return int(a), int(b)


def versions() -> dict[str, str]:
    """The versions a model was trained with."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        own = version("napari-sleap-train")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        own = "unknown"
    return {"napari-sleap-train": own, "torch": torch.__version__}


@dataclass(frozen=True)
class ModelFolder:
    """One trained model: its files and how to read and write them."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config_file(self) -> Path:
        return self.path / "training_config.json"

    @property
    def info_file(self) -> Path:
        return self.path / "model_info.json"

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    @property
    def last(self) -> Path:
        return self.path / "last.pt"

    @property
    def log_file(self) -> Path:
        return self.path / "training_log.csv"

    def is_complete(self) -> bool:
        """Whether the folder holds a usable model (metadata and best weights)."""
        return self.info_file.exists() and self.best.exists()

    def read_info(self) -> ModelInfo:
        """The model's metadata, with a clear error when this is not a model folder."""
        if not self.path.is_dir():
            raise ModelFolderError(
                f"Model folder {self.path} does not exist. Train a model first, "
                "or choose the folder that `train --out` wrote."
            )
        missing = [p.name for p in (self.info_file, self.best) if not p.exists()]
        if missing:
            raise ModelFolderError(
                f"{self.path} is not a complete model folder: {', '.join(missing)} missing. "
                "Training may have been interrupted before the first epoch ended; train again."
            )
        return self._parse_info("train again")

    def _parse_info(self, remedy: str) -> ModelInfo:
        """``model_info.json`` read; a corrupt file is refused, saying ``remedy``."""
        try:
            data = json.loads(self.info_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFolderError(f"{self.info_file} is corrupt ({exc}); {remedy}.") from exc
        return ModelInfo.from_dict(data, self.info_file)

    def write_info(self, info: ModelInfo) -> None:
        write_json_atomic(self.info_file, info.to_dict())

    def save_best(self, weights: dict[str, Any]) -> None:
        """Write the best weights (a state dict) atomically."""
        _torch_save(weights, self.best)

    def save_last(self, state: dict[str, Any]) -> None:
        """Write the state to resume from (weights, optimiser, epoch, …) atomically."""
        _torch_save(state, self.last)

    def load_state(self, path: Path) -> Any:
        """Load a checkpoint with ``weights_only=True``; anything else is refused."""
        import torch

        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - pickle errors come in many types
            raise ModelFolderError(
                f"{path} could not be loaded safely ({type(exc).__name__}). Model files must "
                "hold plain weights; this one may be corrupt or hold code. Do not use it; "
                "train again."
            ) from exc

    def load_model(self) -> tuple[ConfmapModel, ModelInfo]:
        """The best model, in eval mode, and its metadata."""
        info = self.read_info()
        model = build_model(info)
        state = self.load_state(self.best)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ModelFolderError(
                f"{self.best} does not match the architecture in {self.info_file.name}: {exc}"
            ) from exc
        return model.eval(), info

    def write_log(self, rows: list[dict[str, float]]) -> None:
        """The per-epoch training log as CSV."""
        buf = io.StringIO()
        extra = [k for k in (rows[0] if rows else {}) if k not in LOG_COLUMNS]
        writer = csv.DictWriter(buf, fieldnames=[*LOG_COLUMNS, *extra])
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.log_file, buf.getvalue())

    def read_log(self) -> list[dict[str, float]]:
        """Rows of ``training_log.csv`` (empty when there is none)."""
        if not self.log_file.exists():
            return []
        with open(self.log_file) as fh:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _torch_save(obj: Any, path: Path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def build_model(info: ModelInfo) -> ConfmapModel:
    """An untrained model of the architecture ``info`` describes."""
    from .unet import ConfmapModel

    head = len(info.class_names) if ModelKind(info.kind).crops else 0  # bottom-up-ID: maps
    return ConfmapModel(info.backbone, info.n_maps, head, info.class_units, info.class_layers)


FINISHED = ("completed", "early stopped", "time limit")
"""How a model's training ends when it needs no more."""


@dataclass
class ModelRecord:
    """How far a model of a run got: ``pending``, ``training`` (or killed while it was),
    ``stopped`` (by the user: resumable) or ``finished``."""

    status: str = "pending"
    reason: str = ""
    epochs: int = 0
    seconds: float = 0.0


@dataclass
class RunRecord:
    """What a run folder's ``run.json`` says: the labels, the budget and each model's state."""

    labels: str | None = None
    time_budget_minutes: float | None = None
    models: dict[str, ModelRecord] = field(default_factory=dict)

    def unfinished(self, kinds: tuple[ModelKind, ...]) -> list[ModelKind]:
        """The models of ``kinds`` that still need training."""
        done = {k for k, m in self.models.items() if m.status == "finished"}
        return [k for k in kinds if k.value not in done]

    @property
    def seconds(self) -> float:
        """Training time spent so far, all models together."""
        return sum(m.seconds for m in self.models.values())


@dataclass(frozen=True)
class RunFolder:
    """One training run: a model folder per model of its pipeline, and ``run.json``."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def new(cls, root: str | os.PathLike) -> RunFolder:
        """A run folder named after the time now, under ``root`` (not created)."""
        stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
        return cls(Path(root) / f"{RUN_PREFIX}{stamp}")

    def model(self, kind: ModelKind | str) -> ModelFolder:
        return ModelFolder(self.path / ModelKind(kind).value)

    def has_models(self, kinds: tuple[ModelKind, ...]) -> bool:
        """Whether a model folder exists for each of ``kinds``."""
        return all(self.model(k).path.is_dir() for k in kinds)

    def models(self, kinds: tuple[ModelKind, ...]) -> dict[ModelKind, ModelFolder]:
        return {k: self.model(k) for k in kinds}

    def pipeline_models(self) -> tuple[ModelKind, ...]:
        """The models this run's pipeline needs: its one full-frame model (single-instance,
        bottom-up or bottom-up-ID) when it holds one, else top-down's two (top-down-ID's when its
        instance model names identities)."""
        for kind in (k for k in ModelKind if k.full_frame):
            if self.model(kind).path.is_dir():
                return (kind,)
        if self.model(ModelKind.CENTERED_INSTANCE_ID).path.is_dir():
            return (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE_ID)
        return (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE)

    def member(self, k: int) -> RunFolder:
        """Ensemble member ``k`` (2, 3, ...): a run of its own under ``members/``; member 1
        is this run."""
        return RunFolder(self.path / MEMBERS / str(k))

    def members(self) -> list[RunFolder]:
        """The ensemble's further members holding a best checkpoint of every model of this
        run's pipeline, in order (empty for a run of one model per kind)."""
        kinds = self.pipeline_models()
        found = []
        for k in range(2, 100):
            member = self.member(k)
            if not member.path.is_dir():
                break
            if all(member.model(kind).best.exists() for kind in kinds):
                found.append(member)
        return found

    @property
    def record_file(self) -> Path:
        return self.path / "run.json"

    def read_record(self) -> RunRecord:
        """The run's record (an empty one for folders written without it)."""
        try:
            data = json.loads(self.record_file.read_text())
            models = {k: ModelRecord(**v) for k, v in data.get("models", {}).items()}
            return RunRecord(data.get("labels"), data.get("time_budget_minutes"), models)
        except (OSError, ValueError, TypeError, AttributeError):
            return RunRecord()

    def write_record(self, record: RunRecord) -> None:
        write_json_atomic(self.record_file, dataclasses.asdict(record))

    def missing_text(self, kinds: tuple[ModelKind, ...]) -> str | None:
        """Which models a run lacks and the command that trains them (None: complete)."""
        missing = [k for k in kinds if not self.model(k).is_complete()]
        if not missing:
            return None
        labels = self.read_record().labels or "LABELS.slp"
        names = " and ".join(k.value for k in missing)
        return (
            f"{self.path} has no trained {names} model (training stopped before it ended). "
            f"Train it with: napari-sleap-train train {labels} --resume {self.path}"
        )


def runs_root(project_path: str | os.PathLike | None) -> Path:
    """Where the runs of a project go: ``models/`` beside it (or in the home folder)."""
    if project_path is not None:
        return Path(project_path).expanduser().resolve().parent / "models"
    return Path.home() / "napari-sleap-train" / "models"


def runs_in(root: str | os.PathLike, kinds: tuple[ModelKind, ...] | None = None) -> list[RunFolder]:
    """The runs under ``root`` holding a trained model (a best checkpoint) for each of
    ``kinds`` (default: each model of the run's own pipeline), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = (RunFolder(p) for p in sorted(root.glob(f"{RUN_PREFIX}*")))
    return [
        run
        for run in runs
        if all(run.model(k).best.exists() for k in kinds or run.pipeline_models())
    ]

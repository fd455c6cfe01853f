"""Model folders: weights, config, metadata and log, written atomically, loaded safely.

Weights are plain state dicts loaded with ``torch.load(..., weights_only=True)``, so a
folder received from someone else cannot run code when it is opened.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..config import write_json_atomic
from ..errors import ModelFolderError
from ..models import ConfmapModel, UNetSpec

CONFIG_FILE = "training_config.json"
INFO_FILE = "model_info.json"
BEST_FILE = "best.pt"
LAST_FILE = "last.pt"
LOG_FILE = "training_log.csv"
LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "learning_rate", "seconds")


def save_torch_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(suffix=".pt", prefix=f".{path.stem}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    """Write text through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(suffix=".tmp", prefix=f".{path.stem}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_info(folder: Path, info: dict[str, Any]) -> None:
    """Metadata that inference needs (skeleton, scaling, crop, anchor, strides)."""
    write_json_atomic(folder / INFO_FILE, info)


def write_log(folder: Path, rows: list[dict[str, float]]) -> None:
    """The per-epoch training log as CSV."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(folder / LOG_FILE, buf.getvalue())


def read_log(folder: Path) -> list[dict[str, float]]:
    """Rows of ``training_log.csv`` (empty when there is none)."""
    path = Path(folder) / LOG_FILE
    if not path.exists():
        return []
    with open(path) as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def read_info(folder: str | os.PathLike) -> dict[str, Any]:
    """Load ``model_info.json``, with a clear error when the folder is not a model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(
            f"Model folder {folder} does not exist. Train a model first, "
            "or choose the folder that `train --out` wrote."
        )
    missing = [f for f in (INFO_FILE, BEST_FILE) if not (folder / f).exists()]
    if missing:
        raise ModelFolderError(
            f"{folder} is not a complete model folder: {', '.join(missing)} missing. "
            "Training may have been interrupted before the first epoch ended; train again."
        )
    try:
        return json.loads((folder / INFO_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ModelFolderError(f"{folder / INFO_FILE} is corrupt ({exc}); train again.") from exc


def load_state(path: Path) -> Any:
    """Load a checkpoint with ``weights_only=True``; anything else is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle errors come in many types
        raise ModelFolderError(
            f"{path} could not be loaded safely ({type(exc).__name__}). Model files must hold "
            "plain weights; this one may be corrupt or hold code. Do not use it; train again."
        ) from exc


def build_model(info: dict[str, Any]) -> ConfmapModel:
    """An untrained model of the architecture described by ``info``."""
    return ConfmapModel(UNetSpec(**info["backbone"]), int(info["n_maps"]))


def load_model(folder: str | os.PathLike) -> tuple[ConfmapModel, dict[str, Any]]:
    """The best model of a folder, in eval mode, and its metadata."""
    folder = Path(folder)
    info = read_info(folder)
    model = build_model(info)
    state = load_state(folder / BEST_FILE)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ModelFolderError(
            f"{folder / BEST_FILE} does not match the architecture in {INFO_FILE}: {exc}"
        ) from exc
    return model.eval(), info


def spec_dict(spec: UNetSpec) -> dict[str, Any]:
    """JSON-ready backbone description."""
    return asdict(spec)

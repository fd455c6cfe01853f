"""The last used training configuration, kept between napari sessions for both docks.

It is the same JSON as Save configuration, so a whole configuration survives, not only the
fields of one form.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import TrainingConfig
from ..errors import SleapTrainError


def settings_file() -> Path:
    """Where the last-used settings persist between napari sessions."""
    root = os.environ.get("NAPARI_SLEAP_TRAIN_SETTINGS")
    if root:
        return Path(root)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "napari-sleap-train" / "last_config.json"


def load_last_config() -> TrainingConfig | None:
    """The settings of the last session, or None when there are none (or they are unusable)."""
    try:
        return TrainingConfig.load(settings_file())
    except (OSError, SleapTrainError):
        return None


def save_last_config(config: TrainingConfig) -> None:
    """Remember ``config`` for the next session (best effort)."""
    path = settings_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        config.save(path)
    except (OSError, SleapTrainError):
        pass

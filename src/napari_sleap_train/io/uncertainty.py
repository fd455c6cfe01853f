"""Each predicted body part's uncertainty (px), written as a CSV beside the predictions.

One row per video, frame and track (empty for one untracked animal), one column per body
part, ``<node>.uncertainty_px``: the Kalman smoother's standard deviation after smoothing,
otherwise how far an ensemble's members disagree; empty where it is unknown. The ``.slp``
format has no place for it.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ExportError

Uncertainty = dict[tuple[int, str | None], np.ndarray]
"""Body parts' uncertainty (px) keyed by (frame, track name)."""


def uncertainty_path(predictions: str | os.PathLike) -> Path:
    """``OUT.uncertainty.csv`` beside predictions saved as ``OUT.slp``."""
    path = Path(predictions)
    return path.with_name(f"{path.name.removesuffix('.slp')}.uncertainty.csv")


def write_uncertainty_csv(
    path: str | os.PathLike, by_video: dict[str, Uncertainty], node_names: list[str]
) -> Path:
    """Write the uncertainties of each video (keyed by its file name) atomically, rows by
    video, frame and track."""
    target = Path(path)
    with (
        atomic_path(target, error=ExportError) as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as f,
    ):
        writer = csv.writer(f)
        writer.writerow(
            ["video", "frame_idx", "track", *(f"{n}.uncertainty_px" for n in node_names)]
        )
        for video, table in by_video.items():
            for (frame, track), sd in sorted(
                table.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
            ):
                cells = ["" if not math.isfinite(v) else f"{v:.3f}" for v in np.asarray(sd, float)]
                writer.writerow([video, frame, track or "", *cells])
    return target

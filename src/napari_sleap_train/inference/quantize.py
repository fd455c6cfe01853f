"""8-bit ONNX networks: an exported ONNX run quantized by ONNX Runtime (weights per channel,
activations per tensor, as quantize/dequantize pairs), calibrated on the inputs its
float32 networks see when they predict real frames of the project: the scaled frames for
full-frame models, the crops around the animals the centroid model finds for the
centered-instance model. On CPUs with 8-bit dot-product instructions (VNNI) the networks
run about twice as fast; their maps, and so the poses, move by a fraction of a pixel.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ExportError, RuntimeMissingError
from ..io.project import load_project
from ..io.video import LazyVideo
from ..models.export import (
    MANIFEST,
    ONNX_FILE,
    check_destination,
    export_run,
    read_export,
    replace_folder,
)
from ..models.folder import RunFolder
from .pipelines import predictor_for
from .runtimes import OnnxNetwork

CALIBRATION_FRAMES = 32


class _Recorder:
    """An ONNX network that keeps every input it is given."""

    def __init__(self, network: OnnxNetwork):
        self.network = network
        self.inputs: list[np.ndarray] = []

    def __call__(self, x):
        self.inputs.append(np.ascontiguousarray(x.detach().float().cpu().numpy()))
        return self.network(x)


def calibration_frames(source: str | os.PathLike, n: int = CALIBRATION_FRAMES) -> np.ndarray:
    """Up to ``n`` frames ``(n, H, W, C)``: a project's labelled frames (or its first
    video's frames spread evenly when it has none), or a video's frames spread evenly."""
    source = Path(source)
    frames: list[np.ndarray] = []
    if source.suffix.lower() == ".slp" or source.name.endswith(".csv"):
        project = load_project(source)
        user = project.user_frames()
        picked = user[:: max(1, len(user) // n)][:n]
        videos = {}
        try:
            for lf in picked:
                lazy = videos.setdefault(id(lf.video), LazyVideo(lf.video))
                frames.append(np.asarray(lazy.frame(lf.frame_idx)))
        finally:
            for lazy in videos.values():
                lazy.close()
        if frames:
            return _stack(frames)
        source = Path(str(project.videos[0].filename)) if project.videos else source
    lazy = LazyVideo(str(source))
    try:
        for f in np.linspace(0, len(lazy) - 1, min(n, len(lazy))).astype(int):
            frames.append(np.asarray(lazy.frame(int(f))))
    finally:
        lazy.close()
    return _stack(frames)


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    out = np.zeros((len(frames), h, w, frames[0].shape[2] if frames[0].ndim == 3 else 1), np.uint8)
    for i, f in enumerate(frames):
        out[i, : f.shape[0], : f.shape[1]] = f.reshape(f.shape[0], f.shape[1], -1)
    return out


def run_labels(run_dir: str | os.PathLike) -> Path | None:
    """The labels a run was trained on, when its record names a file that is still there."""
    labels = RunFolder(Path(run_dir)).read_record().labels
    return Path(labels) if labels and Path(labels).exists() else None


def export_int8(run_dir: str | os.PathLike, out_dir: str | os.PathLike, frames: np.ndarray) -> Path:
    """Export the run ``run_dir`` to ``out_dir`` as 8-bit ONNX calibrated on ``frames``:
    exported and quantized beside it, and put in place only when both succeed (an earlier
    export there is replaced)."""
    out = Path(out_dir).expanduser().resolve()
    check_destination(out, Path(run_dir))
    staging = out.parent / f".{out.name}.int8-export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        quantize_export(export_run(run_dir, staging, "onnx"), frames)
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def quantize_export(export_dir: str | os.PathLike, frames: np.ndarray) -> Path:
    """Make the ONNX networks of ``export_dir`` 8-bit, calibrated on ``frames``
    ``(n, H, W[, C])`` uint8; the folder is replaced only when every network is done."""
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError:
        raise RuntimeMissingError("8-bit export", "onnx") from None
    out = Path(export_dir)
    manifest = read_export(out)
    if manifest.format != "onnx":
        raise ExportError(
            f"Only ONNX exports can be made 8-bit here (this one is {manifest.format}); "
            "export with --format onnx."
        )
    predictor = predictor_for(manifest.folders("onnx"), device="cpu")
    recorders = {}
    for name, value in list(vars(predictor).items()):
        if isinstance(value, OnnxNetwork):
            recorders[name] = _Recorder(value)
            setattr(predictor, name, recorders[name])
    for start in range(0, len(frames), 4):
        predictor.predict_batch(frames[start : start + 4])
    empty = [r.network.path.parent.name for r in recorders.values() if not r.inputs]
    if empty:
        raise ExportError(
            f"The {', '.join(empty)} model saw no input on the calibration frames (no animal "
            "found): calibrate on frames that show the animals (--calibration)."
        )

    class Reader(CalibrationDataReader):
        def __init__(self, inputs: Sequence[np.ndarray], name: str):
            self.items = iter([{name: x} for x in inputs])

        def get_next(self):
            return next(self.items, None)

    tmp = out.parent / f".{out.name}.int8-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(out, tmp)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process is not for us
    try:
        for recorder in recorders.values():
            folder = tmp / recorder.network.path.parent.name
            source = folder / "float32.onnx"
            os.replace(folder / ONNX_FILE, source)
            quantize_static(
                str(source),
                str(folder / ONNX_FILE),
                Reader(recorder.inputs, recorder.network.input),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
            source.unlink()
        data = json.loads((tmp / MANIFEST).read_text())
        data["precision"] = "int8"
        data["calibration_frames"] = len(frames)
        (tmp / MANIFEST).write_text(json.dumps(data, indent=2))
        replace_folder(tmp, out)
    finally:
        logging.getLogger().setLevel(level)
        shutil.rmtree(tmp, ignore_errors=True)
    return out

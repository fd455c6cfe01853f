"""Exported runs: each model of a training run in a form that runs without the training code.

An exported folder holds ``export.json`` (the format, its version, the package version, the
pipeline and a subfolder per model) and, per model, ``model_info.json`` (skeleton, scaling,
crop size, strides, tracks: :class:`ModelInfo`), ``training_config.json`` when the run kept
one (bottom-up grouping reads it) and the network: ``model.onnx`` (formats ``onnx`` and
``tensorrt``; float32 NCHW input ``image`` in [0, 1], output ``maps``, a dynamic batch axis and,
for full-frame models, dynamic height and width; the model information also sits in the ONNX
metadata) or ``model.ts`` (TorchScript, format ``torchscript``). For ``tensorrt`` ONNX Runtime's
TensorRT provider builds the engine on first use and caches it in the model's folder.

Each network is checked against PyTorch on a random input right after export; the folder is
written beside its place and renamed into it at the end, so a failure leaves nothing
half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..choices import ModelKind
from ..errors import ExportError, ModelFolderError, RuntimeMissingError
from .folder import ModelFolder, ModelInfo, RunFolder, versions

if TYPE_CHECKING:
    from .unet import ConfmapModel

FORMATS = ("onnx", "tensorrt", "torchscript")
FORMAT_VERSION = 1
MANIFEST = "export.json"
ONNX_FILE = "model.onnx"
TORCHSCRIPT_FILE = "model.ts"
OPSET = 17
INPUT_NAME, OUTPUT_NAME = "image", "maps"
META_INFO = "napari_sleap_train.model_info"
TOLERANCE = 1e-3
"""Largest difference allowed between the exported network's maps and PyTorch's (relative to
the largest map value when that is over 1)."""


def model_file(fmt: str) -> str:
    """The network's file name in a model folder of format ``fmt``."""
    return TORCHSCRIPT_FILE if fmt == "torchscript" else ONNX_FILE


def require_onnx(fmt: str = "onnx") -> None:
    """Refuse when ``onnx`` or ``onnxruntime`` is missing, naming the extra of ``fmt``."""
    for module in ("onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            extra = "tensorrt" if fmt == "tensorrt" else "onnx"
            raise RuntimeMissingError(
                f"The {fmt} format", extra, f" ({module} is not installed)"
            ) from None


@dataclass(frozen=True)
class ExportedModelFolder(ModelFolder):
    """A model folder of an exported run; ``runtime`` says what runs it (``auto``, ``torch``,
    ``onnx`` or ``tensorrt``)."""

    runtime: str = "auto"

    @property
    def network_file(self) -> Path:
        onnx = self.path / ONNX_FILE
        return onnx if onnx.exists() else self.path / TORCHSCRIPT_FILE

    def is_complete(self) -> bool:
        return self.info_file.exists() and self.network_file.exists()

    def read_info(self) -> ModelInfo:
        """The model's metadata; the folder must hold its network too."""
        if not self.is_complete():
            missing = [p.name for p in (self.info_file, self.network_file) if not p.exists()]
            raise ModelFolderError(
                f"{self.path} is not a complete exported model: {', '.join(missing)} missing. "
                "Export the run again."
            )
        return self._parse_info("export again")

    def load_model(self):
        raise ModelFolderError(
            f"{self.path} holds an exported network, not PyTorch weights: predict with it "
            "through an exported runtime, or use the run folder it was exported from."
        )


def is_exported_model(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a model folder of an exported run."""
    path = Path(path)
    return (path / ONNX_FILE).exists() or (path / TORCHSCRIPT_FILE).exists()


def is_export(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by :func:`export_run`."""
    return (Path(path) / MANIFEST).is_file()


@dataclass
class ExportManifest:
    """What ``export.json`` says, checked: every model folder it names is complete."""

    path: Path
    format: str
    version: str
    pipeline: str
    models: dict[ModelKind, Path]

    def folders(self, runtime: str = "auto") -> dict[ModelKind, ExportedModelFolder]:
        """The model folders, to be run by ``runtime``."""
        return {k: ExportedModelFolder(p, runtime) for k, p in self.models.items()}


def read_export(path: str | os.PathLike) -> ExportManifest:
    """The manifest of an exported folder; refused (:class:`ModelFolderError`) when the folder
    is no export, another version wrote it or a model file is missing."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"Exported folder {path} does not exist: give the folder "
                               "`export-model -o` wrote.")  # fmt: skip
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise ModelFolderError(
            f"{path} is not an exported run ({MANIFEST} missing): give a folder written by "
            "`export-model`, or a run folder written by `train`."
        )
    try:
        data = json.loads(manifest.read_text())
        version = str(data.get("napari_sleap_train", "unknown"))
        fmt_version = data.get("format_version")
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise ModelFolderError(f"{manifest} is corrupt ({exc}); export the run again.") from exc
    if fmt_version != FORMAT_VERSION or data.get("format") not in FORMATS:
        raise ModelFolderError(
            f"{path} was exported by napari-sleap-train {version} with format version "
            f"{fmt_version} ({data.get('format')}), which this version (format version "
            f"{FORMAT_VERSION}) cannot read: export the run again with this version."
        )
    try:
        models = {ModelKind(k): path / str(v) for k, v in dict(data["models"]).items()}
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFolderError(f"{manifest} names no valid models ({exc}); export again.") from exc
    fmt = data["format"]
    for kind, folder in models.items():
        missing = [
            name for name in ("model_info.json", model_file(fmt)) if not (folder / name).is_file()
        ]
        if missing:
            raise ModelFolderError(
                f"{path} lacks {', '.join(missing)} of its {kind.value} model: it was copied "
                "incompletely; export the run again."
            )
    return ExportManifest(path, fmt, version, str(data.get("pipeline", "")), models)


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, fmt: str = "onnx") -> Path:
    """Export every model of the training run ``run_dir`` to ``out_dir`` in format ``fmt``
    (``onnx``, ``tensorrt`` or ``torchscript``) and return ``out_dir``.

    Refused, writing nothing, when a model of the run is missing or incomplete, ``out_dir``
    holds files that are not an earlier export (an earlier export is replaced), or the
    exported network's maps differ from PyTorch's.
    """
    if fmt not in FORMATS:
        raise ExportError(f"Format {fmt!r} is not one of {', '.join(FORMATS)}; choose one of them.")
    run = RunFolder(Path(run_dir))
    if not run.path.is_dir():
        raise ModelFolderError(
            f"Run folder {run.path} does not exist: give the folder `train --out` wrote."
        )
    kinds = run.pipeline_models()
    missing = run.missing_text(kinds)
    if missing is not None:
        raise ModelFolderError(missing)
    if fmt != "torchscript":
        require_onnx(fmt)
    out = Path(out_dir).expanduser().resolve()
    check_destination(out, run.path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.export-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        written = {}
        pipeline = ""
        for kind in kinds:
            info = export_model(run.model(kind), tmp / kind.value, fmt)
            written[kind.value] = kind.value
            pipeline = info.pipeline.value
        manifest = {
            "format": fmt,
            "format_version": FORMAT_VERSION,
            "napari_sleap_train": versions()["napari-sleap-train"],
            "pipeline": pipeline,
            "models": written,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def members_left_out(run_dir: str | os.PathLike) -> str:
    """What an export of an ensemble run leaves out, in a sentence ("" for other runs)."""
    n = len(RunFolder(Path(run_dir)).members())
    return f"The run is an ensemble of {n + 1}; the export holds its first member." if n else ""


def check_destination(out: Path, run: Path) -> None:
    """Refuse an export folder that is a file, the run itself, or holds other files."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file: choose a folder to export to.")
    if out.resolve() == run.resolve():
        raise ExportError(f"{out} is the run folder itself: choose another folder to export to.")
    if out.is_dir() and any(out.iterdir()) and not is_export(out):
        raise ExportError(
            f"{out} already holds files that are not an exported run: choose an empty or new "
            "folder to export to."
        )


def replace_folder(new: Path, out: Path) -> None:
    """Put folder ``new`` at ``out``, replacing an earlier export there."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(new, out)
    except OSError:
        if old.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def export_model(folder: ModelFolder, out: Path, fmt: str) -> ModelInfo:
    """Export one model folder to the new folder ``out`` and check the result."""
    model, info = folder.load_model()
    out.mkdir(parents=True)
    (out / "model_info.json").write_text(json.dumps(info.to_dict(), indent=2))
    if folder.config_file.exists():
        shutil.copyfile(folder.config_file, out / folder.config_file.name)
    if fmt == "torchscript":
        _export_torchscript(model, info, out / TORCHSCRIPT_FILE)
    else:
        _export_onnx(model, info, out / ONNX_FILE)
    return info


def example_input(info: ModelInfo, batch: int = 1, grow: int = 0) -> torch.Tensor:
    """A random input of the model's size (full-frame models: ``grow`` strides taller)."""
    h, w = info.input_hw
    if info.kind.full_frame:
        h += grow * info.max_stride
    gen = torch.Generator().manual_seed(0)
    return torch.rand(batch, info.in_channels, h, w, generator=gen)


def _export_onnx(model: torch.nn.Module, info: ModelInfo, path: Path) -> None:
    import onnx

    axes = {0: "batch", 2: "height", 3: "width"} if info.kind.full_frame else {0: "batch"}
    out_axes = {0: "batch", 2: "map_height", 3: "map_width"} if info.kind.full_frame else axes
    graph = model if model.classes is None else FixedIdentityModel(model, example_input(info))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on the input shape checks
        torch.onnx.export(
            graph,
            (example_input(info),),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: out_axes},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(
        proto,
        {
            META_INFO: json.dumps(info.to_dict()),
            "napari_sleap_train.version": versions()["napari-sleap-train"],
            "napari_sleap_train.format_version": str(FORMAT_VERSION),
        },
    )
    onnx.save(proto, str(path))
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = example_input(info, batch=2, grow=1)
    got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    _check_equal(model, x, torch.from_numpy(got), info, "ONNX")


def _adaptive_max(t: torch.Tensor, in_hw: tuple[int, int], out_hw: tuple[int, int]):
    """``F.adaptive_max_pool2d`` with the sizes as constants: a max pool where they divide,
    else the max of each bin, one axis after the other (max is separable)."""
    (h, w), (oh, ow) = in_hw, out_hw
    if h % oh == 0 and w % ow == 0:
        return F.max_pool2d(t, (h // oh, w // ow))
    for dim, n, m in ((2, h, oh), (3, w, ow)):
        bins = [(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]
        t = torch.cat([t.narrow(dim, a, b - a).amax(dim, keepdim=True) for a, b in bins], dim)
    return t


class FixedIdentityModel(torch.nn.Module):
    """An ID crop model whose identity head pools to sizes fixed by the crop, as the ONNX
    exporter needs (its adaptive pooling takes constant sizes only); the exported maps are
    checked against the model itself."""

    def __init__(self, model: ConfmapModel, example: torch.Tensor):
        super().__init__()
        self.model = model
        with torch.no_grad():
            features = model.backbone(example)
            pooled = model.classes.convs(features)
        self.map_hw = (int(features.shape[-2]), int(features.shape[-1]))
        self.pool_hw = (int(pooled.shape[-2]), int(pooled.shape[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        model, head = self.model, self.model.classes
        features = model.backbone(x)
        maps = model.head(features)
        body = _adaptive_max(maps.amax(1, keepdim=True).clamp(0, 1), self.map_hw, self.pool_hw)
        logits = head.fc((head.convs(features) * body).amax((2, 3)))
        return torch.cat([maps, logits[:, :, None, None].expand(-1, -1, *self.map_hw)], 1)


def _export_torchscript(model: torch.nn.Module, info: ModelInfo, path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example_input(info), check_trace=False)
        torch.jit.save(
            traced, str(path), _extra_files={"model_info.json": json.dumps(info.to_dict())}
        )
        loaded = torch.jit.load(str(path), map_location="cpu")
        x = example_input(info, batch=2, grow=1)
        got = loaded(x)
    _check_equal(model, x, got, info, "TorchScript")


def _check_equal(
    model: torch.nn.Module, x: torch.Tensor, got: torch.Tensor, info: ModelInfo, what: str
) -> None:
    with torch.no_grad():
        want = model(x)
    if got.shape != want.shape:
        raise ExportError(
            f"The {what} export of the {info.kind.value} model gives maps of shape "
            f"{tuple(got.shape)}, PyTorch {tuple(want.shape)}; export to another format."
        )
    diff = float((got - want).abs().max())
    bound = TOLERANCE * max(1.0, float(want.abs().max()))
    if not diff <= bound:
        raise ExportError(
            f"The {what} export of the {info.kind.value} model differs from PyTorch by "
            f"{diff:.2g} (at most {bound:.2g} allowed); export to another format."
        )


def exported_run(run_dir: str | os.PathLike, fmt: str) -> Path:
    """The run's own export in format ``fmt`` (``<run>/exported/<fmt>``), written anew unless
    one is there that is newer than every model's best weights."""
    run = RunFolder(Path(run_dir))
    out = run.path / "exported" / fmt
    if is_export(out):
        try:
            manifest = read_export(out)
        except ModelFolderError:
            manifest = None
        bests = [run.model(k).best for k in run.pipeline_models()]
        stamp = (out / MANIFEST).stat().st_mtime
        if (
            manifest is not None
            and manifest.format == fmt
            and all(b.exists() and b.stat().st_mtime < stamp for b in bests)
        ):
            return out
    return export_run(run.path, out, fmt)

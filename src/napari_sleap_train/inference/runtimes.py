"""Exported networks behind the torch model's call: ``net(x) -> maps``, float32 tensors.

:class:`OnnxNetwork` runs ``model.onnx`` in ONNX Runtime, on the CPU, CUDA or TensorRT
(which builds its engine on first use and caches it beside the model); :class:`TorchScript
Network` is ``torch.jit.load`` of ``model.ts``. Both compute in float32.

ONNX Runtime's CPU settings, measured on the sample's networks (2-core AMD EPYC,
``benchmarks/bench_predict.py``): every graph optimisation, sequential execution (parallel
execution was 1.5-2 times slower), one thread per core, and no spin-waiting: its threads
spinning between calls took the cores from PyTorch's, which crop the frames and find the
peaks around each call (top-down: 69 against 48 frames/s, 19 against 38 ms a frame).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..choices import ModelKind
from ..errors import ModelFolderError, RuntimeMissingError
from ..models.export import ExportedModelFolder, require_onnx
from ..models.folder import ModelInfo

RUNTIMES = ("auto", "torch", "onnx", "tensorrt")
CUDA_PROVIDER = "CUDAExecutionProvider"
TENSORRT_PROVIDER = "TensorrtExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def onnx_providers(runtime: str, device: torch.device, folder: Path, strict: bool) -> list:
    """ONNX Runtime's providers for ``runtime`` (``onnx`` or ``tensorrt``) on ``device``.

    ``strict``: refuse a missing CUDA provider rather than run on the CPU (``auto`` falls
    back).
    """
    require_onnx(runtime)
    import onnxruntime as ort

    available = ort.get_available_providers()
    if runtime == "tensorrt":
        if TENSORRT_PROVIDER not in available:
            raise RuntimeMissingError(
                "The tensorrt runtime", "tensorrt", " (ONNX Runtime here has no TensorRT provider)"
            )
        cache = {
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(folder / "tensorrt_cache"),
            "device_id": str(device.index or 0),
        }
        return [(TENSORRT_PROVIDER, cache), *_cuda(device, available), CPU_PROVIDER]
    if device.type == "cuda":
        if CUDA_PROVIDER in available:
            return [*_cuda(device, available), CPU_PROVIDER]
        if strict:
            raise RuntimeMissingError(
                "ONNX Runtime on CUDA",
                "tensorrt",
                " (its onnxruntime-gpu; the installed onnxruntime has no CUDA provider)",
            )
    return [CPU_PROVIDER]


def _cuda(device: torch.device, available: list[str]) -> list:
    if device.type != "cuda" or CUDA_PROVIDER not in available:
        return []
    return [(CUDA_PROVIDER, {"device_id": str(device.index or 0)})]


class OnnxNetwork:
    """``model.onnx`` in an ONNX Runtime session; called like the torch model."""

    def __init__(self, path: Path, runtime: str, device: torch.device, strict: bool = True):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = os.cpu_count() or 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = onnx_providers(runtime, device, path.parent, strict)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ModelFolderError(
                f"{path} could not be loaded by ONNX Runtime ({exc}); export the run again."
            ) from exc
        self.path = path
        self.providers: list[str] = self.session.get_providers()
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        out = self.session.run([self.output], {self.input: array})[0]
        return torch.from_numpy(out).to(x.device)

    def __repr__(self) -> str:
        return f"OnnxNetwork({', '.join(self.providers)})"


class TorchScriptNetwork(torch.nn.Module):
    """``model.ts`` loaded by ``torch.jit.load`` (float32)."""

    def __init__(self, path: Path, device: torch.device):
        super().__init__()
        try:
            self.net = torch.jit.load(str(path), map_location=device).eval()
        except (RuntimeError, ValueError) as exc:
            raise ModelFolderError(
                f"{path} could not be loaded as TorchScript ({exc}); export the run again."
            ) from exc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


def load_exported(
    folder: str | os.PathLike | ExportedModelFolder,
    kind: ModelKind | tuple[ModelKind, ...],
    runtime: str,
    device: torch.device,
) -> tuple[OnnxNetwork | TorchScriptNetwork, ModelInfo]:
    """The network of an exported model folder, refused unless it is a ``kind`` model, run
    by ``runtime``: ``auto`` (what the file is: ONNX Runtime, on CUDA when ``device`` is
    CUDA and ONNX Runtime has it; TorchScript in torch), ``torch`` (TorchScript only),
    ``onnx`` or ``tensorrt`` (ONNX only)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
    if not isinstance(folder, ExportedModelFolder):
        folder = ExportedModelFolder(Path(folder), runtime)
    info = folder.read_info()
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if info.kind not in kinds:
        raise ModelFolderError(
            f"{folder.path} does not hold a {' or '.join(k.value for k in kinds)} model."
        )
    path = folder.network_file
    if path.suffix == ".ts":
        if runtime in ("onnx", "tensorrt"):
            raise ModelFolderError(
                f"{folder.path} holds TorchScript, which the {runtime} runtime cannot run: "
                f"export the run with --format {'onnx' if runtime == 'onnx' else 'tensorrt'}."
            )
        return TorchScriptNetwork(path, device), info
    if runtime == "torch":
        raise ModelFolderError(
            f"{folder.path} holds an ONNX model, which the torch runtime cannot run: use the "
            "run folder it was exported from (or --runtime onnx)."
        )
    name = "onnx" if runtime == "auto" else runtime
    return OnnxNetwork(path, name, device, strict=runtime != "auto"), info

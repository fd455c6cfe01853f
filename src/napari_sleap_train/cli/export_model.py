"""``export-model``: a run's models in a form that runs without the training code."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("onnx", "tensorrt", "torchscript")


def add_parsers(sub) -> None:
    """The ``export-model`` sub-command."""
    p = sub.add_parser(
        "export-model",
        help="export a run's models with their metadata (ONNX, TensorRT or TorchScript)",
    )
    p.add_argument("run", help="run folder written by `train --out`")
    p.add_argument(
        "-o", "--out", required=True, help="folder to write: new, empty or an earlier export"
    )
    p.add_argument(
        "--format",
        default="onnx",
        choices=FORMATS,
        help="onnx (ONNX Runtime), tensorrt (ONNX files that ONNX Runtime's TensorRT provider "
        "builds an engine from on first use) or torchscript (default onnx)",
    )
    p.set_defaults(func=cmd_export_model)


def cmd_export_model(args: argparse.Namespace) -> int:
    from ..models.export import export_run, model_file, read_export

    out = export_run(Path(args.run), Path(args.out), args.format)
    manifest = read_export(out)
    for kind, folder in manifest.models.items():
        print(f"{kind.value}: {folder / model_file(manifest.format)}")
    print(
        f"exported {len(manifest.models)} model(s) of the {manifest.pipeline} run as "
        f"{manifest.format} -> {out}"
    )
    return 0

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
    p.add_argument(
        "--int8",
        action="store_true",
        help="ONNX networks quantized to 8 bits: about twice as fast on CPUs with VNNI, poses "
        "within a fraction of a pixel; calibrated on the run's labelled frames",
    )
    p.add_argument(
        "--calibration",
        help="project (.slp) or video to calibrate --int8 on (default: the labels the run "
        "was trained on)",
    )
    p.set_defaults(func=cmd_export_model)


def cmd_export_model(args: argparse.Namespace) -> int:
    from ..errors import ExportError
    from ..models.export import export_run, members_left_out, model_file, read_export

    calibration = None
    if args.int8:
        from ..inference.quantize import calibration_frames, export_int8, run_labels

        if args.format != "onnx":
            raise ExportError("--int8 is for --format onnx.")
        source = Path(args.calibration) if args.calibration else run_labels(Path(args.run))
        if source is None:
            raise ExportError(
                "The run's labels are not where it was trained: give frames to calibrate the "
                "8-bit networks on with --calibration LABELS.slp (or a video)."
            )
        calibration = calibration_frames(source)  # read before anything is written
    if calibration is not None:
        out = export_int8(Path(args.run), Path(args.out), calibration)
        print(f"8-bit networks calibrated on {len(calibration)} frames")
    else:
        out = export_run(Path(args.run), Path(args.out), args.format)
    manifest = read_export(out)
    for kind, folder in manifest.models.items():
        print(f"{kind.value}: {folder / model_file(manifest.format)}")
    print(
        f"exported {len(manifest.models)} model(s) of the {manifest.pipeline} run as "
        f"{manifest.format} -> {out}"
    )
    left_out = members_left_out(args.run)
    if left_out:
        print(f"note: {left_out}")
    return 0

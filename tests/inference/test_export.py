"""Exported runs: ONNX and TorchScript predict as PyTorch does, one frame at a time too; the
``export-model`` command; and the bad inputs (a missing model, another format version, a
runtime not installed, a folder in the way)."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from napari_sleap_train.cli import main
from napari_sleap_train.errors import (
    ExportError,
    InferenceError,
    ModelFolderError,
    RuntimeMissingError,
)
from napari_sleap_train.inference.pipelines import load_predictor
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.models.export import MANIFEST, export_run, read_export

from ..conftest import tiny_config

FRAMES = list(range(0, 300, 15))


@pytest.fixture(scope="module")
def top_down_run(sample_paths, tmp_path_factory):
    """A tiny top-down run that finds the sample's animals (80 steps a model)."""
    from napari_sleap_train.training.pipeline import pipeline_events

    out = tmp_path_factory.mktemp("top_down") / "models"
    list(pipeline_events(load_project(sample_paths.project), tiny_config(4, 20, 1e-3), out))
    return out


@pytest.fixture(scope="module")
def video(sample_paths):
    lazy = LazyVideo(str(sample_paths.video))
    yield lazy
    lazy.close()


def _predict(predictor, video):
    return list(predictor.predict_video(video, FRAMES, batch_size=4))


def assert_same(got, want, tolerance=0.05):
    """Same animals per frame, the same nodes found, at most ``tolerance`` px apart."""
    assert [p.frame_idx for p in got] == [p.frame_idx for p in want]
    assert [p.n_instances for p in got] == [p.n_instances for p in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.isnan(a.points), np.isnan(b.points))
        np.testing.assert_allclose(a.points, b.points, atol=tolerance, rtol=0)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)
        assert a.identities == b.identities


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("run", ["top_down_run", "bottom_up_run"])
def test_exported_run_predicts_as_pytorch(request, run, fmt, video, tmp_path):
    run = request.getfixturevalue(run)
    exported = export_run(run, tmp_path / "exported", fmt)
    assert read_export(exported).format == fmt
    want = _predict(load_predictor(run, device="cpu", precision="fp32"), video)
    assert sum(p.n_instances for p in want) >= len(FRAMES)  # the runs find animals
    predictor = load_predictor(exported, device="cpu")
    assert predictor.runtime.startswith("onnxruntime" if fmt == "onnx" else "torchscript")
    assert_same(_predict(predictor, video), want)


def test_predict_frame_equals_predict_batch(top_down_run, video, tmp_path):
    predictor = load_predictor(export_run(top_down_run, tmp_path / "e"), device="cpu")
    frames = np.stack([video.frame(f) for f in (0, 100, 200)])
    batch = predictor.predict_batch(frames)
    single = [predictor.predict_frame(f) for f in frames]
    assert [p.frame_idx for p in single] == [0, 0, 0]
    for i, pred in enumerate(single):
        pred.frame_idx = i
    assert_same(single, batch, tolerance=1e-6)
    rgb = np.repeat(frames[0][..., :1], 3, axis=-1)
    assert predictor.predict_frame(rgb).n_instances == batch[0].n_instances
    with pytest.raises(InferenceError, match="one frame"):
        predictor.predict_frame(frames)


def test_run_folder_on_onnx_is_exported_once(top_down_run, tmp_path):
    run = shutil.copytree(top_down_run, tmp_path / "run")
    predictor = load_predictor(run, runtime="onnx", device="cpu")
    assert predictor.runtime.startswith("onnxruntime")
    manifest = run / "exported" / "onnx" / MANIFEST
    stamp = manifest.stat().st_mtime_ns
    load_predictor(run, runtime="onnx", device="cpu")
    assert manifest.stat().st_mtime_ns == stamp  # newer than the weights: kept
    best = run / "centroid" / "best.pt"
    best.write_bytes(best.read_bytes())  # weights trained since
    load_predictor(run, runtime="onnx", device="cpu")
    assert manifest.stat().st_mtime_ns > stamp
    assert load_predictor(run, device="cpu").runtime == "torch"


def test_id_models_export_with_their_tracks(sample_paths, tmp_path):
    from napari_sleap_train.training.pipeline import pipeline_events

    config = tiny_config(1, 2).for_pipeline("top-down-id")
    run = tmp_path / "run"
    list(pipeline_events(load_project(sample_paths.project), config, run))
    for fmt in ("onnx", "torchscript"):  # each checks its maps and logits against PyTorch
        predictor = load_predictor(export_run(run, tmp_path / fmt, fmt), device="cpu")
        assert predictor.class_names == ["animal_0", "animal_1", "animal_2"]


def test_export_model_command(top_down_run, tmp_path, capsys):
    import onnx

    out = tmp_path / "exported"
    assert main(["export-model", str(top_down_run), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "centroid: " in printed and "centered_instance: " in printed and str(out) in printed
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == "onnx" and manifest["format_version"] == 1
    assert manifest["pipeline"] == "top-down"
    for kind in ("centroid", "centered_instance"):
        assert (out / kind / "training_config.json").exists()
        meta = {p.key: p.value for p in onnx.load(str(out / kind / "model.onnx")).metadata_props}
        info = json.loads(meta["napari_sleap_train.model_info"])
        assert info["kind"] == kind and len(info["node_names"]) == 8
    # an earlier export is replaced
    args = ["export-model", str(top_down_run), "-o", str(out), "--format", "torchscript"]
    assert main(args) == 0
    assert read_export(out).format == "torchscript"
    assert not (out / "centroid" / "model.onnx").exists()


def test_missing_model_writes_nothing(top_down_run, tmp_path, capsys):
    run = shutil.copytree(top_down_run, tmp_path / "run")
    (run / "centered_instance" / "best.pt").unlink()
    out = tmp_path / "out"
    assert main(["export-model", str(run), "-o", str(out)]) == 2
    assert "centered_instance" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_unrelated_folder_is_not_overwritten(top_down_run, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an exported run"):
        export_run(top_down_run, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_export_of_another_version_or_incomplete_is_refused(top_down_run, tmp_path):
    out = export_run(top_down_run, tmp_path / "e")
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(ModelFolderError, match="format version 2.*export the run again"):
        load_predictor(out)
    (out / MANIFEST).write_text(json.dumps(manifest))
    (out / "centroid" / "model.onnx").unlink()
    with pytest.raises(ModelFolderError, match=r"lacks model\.onnx of its centroid model"):
        load_predictor(out)
    with pytest.raises(ModelFolderError, match="not an exported run"):
        read_export(top_down_run)


def test_runtime_that_cannot_run_the_export(top_down_run, tmp_path):
    import onnxruntime

    out = export_run(top_down_run, tmp_path / "e")
    with pytest.raises(ModelFolderError, match="use the run folder"):
        load_predictor(out, runtime="torch", device="cpu")
    if "TensorrtExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("TensorRT is installed here")
    with pytest.raises(RuntimeMissingError, match=r'pip install "napari-sleap-train\[tensorrt\]"'):
        load_predictor(out, runtime="tensorrt", device="cpu")


def test_missing_onnx_runtime_names_the_extra(top_down_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(RuntimeMissingError, match=r'pip install "napari-sleap-train\[onnx\]"'):
        export_run(top_down_run, tmp_path / "e")
    assert not (tmp_path / "e").exists()


def _nearest_gaps(got, want) -> np.ndarray:
    """How far each body part of ``got`` lies from the same part of the nearest animal of
    ``want`` on the same frame."""
    gaps = []
    for a, b in zip(got, want):
        for inst in a.points:
            d = np.linalg.norm(b.points - inst[None], axis=-1)
            if np.isfinite(d).any():
                shared = np.isfinite(d).sum(1)  # body parts both found
                mean = np.where(shared > 0, np.nansum(d, 1) / np.maximum(shared, 1), np.inf)
                k = int(np.argmin(mean))
                gaps.extend(d[k][np.isfinite(d[k])])
    return np.asarray(gaps)


def test_an_8_bit_export_predicts_close_to_float32(top_down_run, sample_paths, video, tmp_path):
    out = tmp_path / "int8"
    args = ["export-model", str(top_down_run), "-o", str(out), "--int8"]
    assert main([*args, "--calibration", str(sample_paths.project)]) == 0
    assert json.loads((out / MANIFEST).read_text())["precision"] == "int8"
    want = _predict(load_predictor(top_down_run, "torch", device="cpu", precision="fp32"), video)
    got = _predict(load_predictor(out, device="cpu"), video)
    found = sum(p.n_instances for p in got)
    assert abs(found - sum(p.n_instances for p in want)) <= 0.1 * found
    gaps = _nearest_gaps(got, want)
    assert len(gaps) and np.median(gaps) < 1.0  # a fraction of a pixel, not the same


def test_an_8_bit_export_needs_onnx_and_frames(top_down_run, tmp_path, capsys):
    out = tmp_path / "int8"
    args = ["export-model", str(top_down_run), "-o", str(out), "--int8"]
    assert main([*args, "--format", "torchscript"]) == 2
    assert "--int8 is for --format onnx" in capsys.readouterr().err
    assert main([*args, "--calibration", str(tmp_path / "missing.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_the_guides_camera_loop_runs(top_down_run, sample_paths, tmp_path, capsys):
    """The one-frame-at-a-time example of the guide, with the sample video as the camera."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "deploying.md").read_text()
    section = page[page.index("## One frame at a time") : page.index("## Many videos")]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exported = export_run(top_down_run, tmp_path / "models-onnx")
    code = code.replace('"models-onnx"', repr(str(exported)))
    code = code.replace("cv2.VideoCapture(0)", f"cv2.VideoCapture({str(sample_paths.video)!r})")
    exec(compile(code, "deploying.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 300  # every frame of the sample's, an animal or more on each

"""One round of the labelling loop with a real viewer: suggest the frames the last run is
unsure of, correct its predictions there, and train again from that run."""

from __future__ import annotations

import json
import shutil

import numpy as np

from napari_sleap_train.choices import FrameTarget, PipelineKind
from napari_sleap_train.gui.labelling.dock import LabellingWidget
from napari_sleap_train.gui.last_config import settings_file
from napari_sleap_train.gui.training.dock import TrainingDock


def test_suggest_where_the_model_is_unsure_correct_and_train_again(
    make_napari_viewer, sample_paths, bottom_up_run, tmp_path, qtbot
):
    settings_file().unlink(missing_ok=True)
    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    last = tmp_path / "models" / "run_20260101_000000"
    shutil.copytree(bottom_up_run, last)
    viewer = make_napari_viewer()
    viewer.open(str(project), plugin="napari-sleap-train")
    _, label = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert isinstance(label, LabellingWidget)
    panel = label.suggestions
    before = {row[0] for row in panel.rows()}
    panel.method.setCurrentIndex(panel.method.findData("mix"))
    panel.count.setValue(3)
    panel.suggest_button.click()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=120000)
    assert "Suggested 3 new frame(s) with run_20260101_000000" in label.status.text()
    new = sorted({row[0] for row in panel.rows()} - before)
    assert len(new) == 3 and min(np.diff(new)) >= 10  # spread over the video
    table = {
        int(panel.table.item(r, 0).text()): panel.table.item(r, 4).text()
        for r in range(panel.table.rowCount())
    }
    assert all(table[f].startswith(("unsure", "new pose")) for f in new)
    predicted = viewer.layers["sample.avi predictions"]
    on_new = np.isin(np.rint(predicted.data[:, 0]), new)
    assert set(np.rint(predicted.data[on_new, 0]).astype(int)) == set(new)  # ready to correct

    # correct: accept the predictions of the first suggested frame, then move one node
    viewer.dims.set_current_step(0, new[0])
    label.editor_panel.accept_button.click()
    assert "Accepted" in label.status.text()
    labels = viewer.layers["sample.avi labels"]
    data = labels.data.copy()
    row = int(np.flatnonzero(np.rint(data[:, 0]) == new[0])[0])
    data[row, 1:] += [2.0, -2.0]
    labels.data = data

    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    assert isinstance(dock, TrainingDock)
    w = dock.settings.form.widgets
    w["pipeline"].value = PipelineKind.BOTTOM_UP
    w["bottom_up.input_scaling"].value = 0.5
    for name, value in (("epochs", 1), ("batches_per_epoch", 2), ("learning_rate", 1e-5)):
        w[f"bottom_up.{name}"].value = value
    w["predict_on"].value = FrameTarget.CURRENT
    dock.runner.again_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=120000)
    run = dock.runner.run_dir
    assert run != last and (run / "bottom_up" / "best.pt").exists()
    record = json.loads((run / "run.json").read_text())
    assert record["models"]["bottom_up"]["status"] == "finished"
    assert w["bottom_up.previous"].value == last / "bottom_up"
    # fine-tuned from the last run: its first validation is as good as that run's best
    # (a network from scratch starts far worse)
    best = min(_val_losses(last / "bottom_up"))
    assert _val_losses(run / "bottom_up")[0] < 1.5 * best
    assert "Predicted 1 frames" in dock.runner.status.text()


def _val_losses(folder) -> list[float]:
    from napari_sleap_train.models.folder import ModelFolder

    return [row["val_loss"] for row in ModelFolder(folder).read_log()]

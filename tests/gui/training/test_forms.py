"""Forms from the declarations, the loss plot and the size histogram, as real Qt widgets."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, Qt

from napari_sleap_train.choices import FrameTarget, ModelKind, Schedule, StartFrom
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.config.network import OptimizationConfig
from napari_sleap_train.gui.training.forms import DockSettings, FieldSpec, SettingsForm
from napari_sleap_train.gui.training.monitor import TrainingMonitor, log_ticks
from napari_sleap_train.gui.training.size_histogram import SizeHistogram, size_bins


def test_widgets_take_label_help_and_range_from_the_declarations(qtbot):
    form = SettingsForm(
        {
            "t": [
                FieldSpec("vf", "config.models.centroid.optimization.validation_fraction"),
                FieldSpec("limit", "config.models.centroid.optimization.time_limit_minutes"),
                FieldSpec("schedule", "config.models.centroid.optimization.schedule"),
                FieldSpec("batch", "config.models.*.optimization.batch_size"),
                FieldSpec("start", "starts.centroid.start"),
                FieldSpec("predict", "after.predict_on"),
                FieldSpec("peaks", "config.models.bottom_up.min_instance_peaks"),
            ]
        }
    )
    w = form.widgets
    assert (w["vf"].min, w["vf"].max) == (0, 1)  # the declared range, not a second copy
    decl = OptimizationConfig.__dataclass_fields__["validation_fraction"].metadata["setting"]
    assert w["vf"].tooltip == decl.help and w["vf"].label == decl.label
    assert w["limit"].label == "Time limit (min, 0 = no limit)"  # 0 stands for None
    assert w["peaks"].label == "Min instance peaks (0 = a quarter of the body parts, at most 4)"
    assert w["predict"].choices[0] is None and FrameTarget.LIST not in w["predict"].choices
    assert set(w["schedule"].choices) == set(Schedule)

    settings = DockSettings()
    settings.config.model("centroid").optimization.time_limit_minutes = None
    form.show(settings)
    assert w["limit"].value == 0
    w["limit"].value = 2.5
    w["batch"].value = 9
    w["schedule"].value = Schedule.COSINE
    w["start"].value = StartFrom.FINE_TUNE
    read = form.read()
    centroid = read.config.model("centroid").optimization
    assert centroid.time_limit_minutes == 2.5 and centroid.schedule is Schedule.COSINE
    assert all(m.optimization.batch_size == 9 for m in read.config.models.values())
    assert read.starts[ModelKind.CENTROID].start is StartFrom.FINE_TUNE
    w["vf"].value = 1.0  # allowed by the widget, refused by validation, found by its path
    problems = read.config.problems() | form.read().config.problems()
    path = "models.centroid.optimization.validation_fraction"
    assert path in problems and form.field_for(path).widget is w["vf"]
    assert form.field_for("models.centered_instance.optimization.batch_size").widget is w["batch"]
    assert isinstance(read.config, TrainingConfig)


def test_the_loss_plot_stores_per_batch_and_redraws_on_its_timer(qtbot):
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.start("Centroid Model", epochs=3, batches=10, patience=5)
    for epoch in range(3):
        for batch in range(10):
            monitor.batch(epoch, batch, 1.0 / (1 + epoch * 10 + batch))
        monitor.epoch(epoch, 0.5 / (epoch + 1), 0.6 / (epoch + 1), is_best=True, wait=0)

    def drawn() -> int:
        x = monitor.plot.batch_line.xData
        return 0 if x is None else len(x)

    assert drawn() == 0  # nothing painted per batch
    qtbot.waitUntil(lambda: drawn() == 30, timeout=2000)
    assert monitor.plot.best_epoch == 3 and "epoch 3/3" in monitor.title.text()
    assert monitor.plot.value_at(2.2) == "epoch 2: train loss 0.25, val loss 0.3"
    assert "(best)" in monitor.plot.value_at(3)
    item = monitor.plot.getPlotItem()
    assert item.getAxis("bottom").labelText == "epoch"
    assert "train loss" in [label.text for _, label in item.legend.items]
    # a log axis shows values even within one decade
    assert [text for _, text in log_ticks(-3.1, -2.6)] == ["0.0008", "0.0009", "0.001", "0.002"]
    assert len(log_ticks(-2.97, -2.9)) == 3  # within one digit step: evenly spaced


def test_a_click_on_a_bar_jumps_to_the_largest_instance_in_it(qtbot):
    sides = np.array([40, 42, 41, 44, 43, 45, 150], float)  # one stray node: 150 px
    frames = np.arange(len(sides)) * 10
    bins = size_bins(frames, sides)
    assert sum(b.count for b in bins) == 7 and bins[-1].largest_frame == 60
    histogram = SizeHistogram()
    qtbot.addWidget(histogram)
    histogram.resize(400, 170)
    histogram.show()
    histogram.set_sizes(frames, sides, crop=96)
    qtbot.waitExposed(histogram)
    assert "largest 150 px on frame 60 (more than twice the median" in histogram.caption.text()
    first = histogram.bins[0]
    vb = histogram.plot.getPlotItem().vb
    scene = vb.mapViewToScene(QPointF((first.lo + first.hi) / 2, first.count / 2))
    pos = histogram.plot.mapFromScene(scene)
    with qtbot.waitSignal(histogram.jump, timeout=2000) as jumped:
        qtbot.mouseClick(histogram.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert jumped.args == [first.largest_frame]

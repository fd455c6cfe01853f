"""Earlier runs: the run folders beside the project, and model folders added by hand;
predicting with one, measuring it on the labelled frames it held out, or exporting it."""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...errors import SleapTrainError
from ...models.folder import RunFolder, runs_in, runs_root
from ..layers.project_layers import ProjectLayers
from ..workers import cause, worker

FOLDER_ROLE = Qt.ItemDataRole.UserRole
EXPORT_FORMATS = {
    "ONNX": "onnx",
    "ONNX 8-bit": "onnx-int8",
    "TensorRT": "tensorrt",
    "TorchScript": "torchscript",
}


def export_int8(run: Path, out: Path, calibration: Path) -> Path:
    """Export ``run`` as 8-bit ONNX calibrated on the frames of ``calibration``."""
    from ...inference import quantize

    return quantize.export_int8(run, out, quantize.calibration_frames(calibration))


class RunsPanel(QWidget):
    """The runs list; ``predict_requested`` carries the selected :class:`RunFolder`.
    Evaluate measures the selected run on the labelled frames it held out (in a worker)
    and shows the report below the list; ``evaluated`` carries it."""

    predict_requested = Signal(object)
    evaluated = Signal(object)

    def __init__(self, layers: ProjectLayers, parent: QWidget | None = None):
        super().__init__(parent)
        self.layers = layers
        self.extra: list[RunFolder] = []
        self.runs = QListWidget()
        self.runs.setToolTip("Earlier runs; select one and press Predict to use it.")
        self.predict_button = QPushButton("Predict with selected run")
        self.predict_button.clicked.connect(self._predict_clicked)
        self.evaluate_button = QPushButton("Evaluate selected run")
        self.evaluate_button.setToolTip(
            "Predict the labelled frames the run held out for validation and compare them "
            "with the labels: node errors, OKS mAP, animals found and, for tracked labels, "
            "identities named right."
        )
        self.evaluate_button.clicked.connect(self._evaluate_clicked)
        self.export_button = QPushButton("Export run as…")
        self.export_button.setToolTip(
            "Write the run's models with their metadata in a form that predicts without the "
            "training code (`predict --runtime`, or your own program)."
        )
        self.export_button.clicked.connect(self._export_clicked)
        self.export_format = QComboBox()
        self.export_format.addItems(list(EXPORT_FORMATS))
        policy = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        self.export_format.setSizeAdjustPolicy(policy)  # the dock keeps its width
        self.export_format.setMinimumContentsLength(6)
        self.export_format.setToolTip(
            "ONNX runs on a CPU or GPU through ONNX Runtime (8-bit: fastest on CPUs, "
            "calibrated on this project's labelled frames); TensorRT on NVIDIA GPUs (the "
            "engine is built from the ONNX files on first use); TorchScript in PyTorch alone."
        )
        self.add_button = QPushButton("Add model folder…")
        self.add_button.clicked.connect(self._add_dialog)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setVisible(False)
        self.worker = None
        self._busy = False
        buttons = QVBoxLayout()
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.evaluate_button)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_button)
        export_row.addWidget(self.export_format, 1)
        buttons.addLayout(export_row)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Runs:"))
        layout.addWidget(self.runs)
        layout.addLayout(buttons)
        layout.addWidget(self.report)

    def refresh(self) -> None:
        """List the runs beside the project and those added by hand."""
        self.runs.clear()
        try:
            project = self.layers.rebuild()
        except SleapTrainError:
            return
        found = runs_in(runs_root(project.path))
        for run in [*found, *self.extra]:
            name = run.path.name if run in found else str(run.path)
            members = len(run.members())
            item = QListWidgetItem(f"{name} (ensemble of {members + 1})" if members else name)
            item.setData(FOLDER_ROLE, str(run.path))
            self.runs.addItem(item)

    def add_run(self, folder: str | Path) -> None:
        """List a models folder trained elsewhere (with a folder per model)."""
        run = RunFolder(Path(folder))
        if not run.has_models(run.pipeline_models()):
            names = " and ".join(f"{k.value}/" for k in run.pipeline_models())
            show_error(f"{run.path} holds no {names} model folders.")
            return
        self.extra.append(run)
        self.refresh()

    def set_busy(self, busy: bool) -> None:
        """Training or predicting: no prediction or evaluation starts meanwhile."""
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        free = not self._busy and self.worker is None
        self.predict_button.setEnabled(free)
        self.evaluate_button.setEnabled(free)
        self.export_button.setEnabled(free)

    def _add_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder")
        if folder:
            self.add_run(folder)

    def _selected(self) -> RunFolder | None:
        item = self.runs.currentItem()
        if item is None:
            show_warning("Select a run first.")
            return None
        return RunFolder(Path(item.data(FOLDER_ROLE)))

    def _predict_clicked(self) -> None:
        run = self._selected()
        if run is not None:
            self.predict_requested.emit(run)

    def _evaluate_clicked(self) -> None:
        run = self._selected()
        if run is not None:
            self.evaluate(run)

    def _export_clicked(self) -> None:
        run = self._selected()
        if run is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder to export the run into")
        if folder:
            fmt = EXPORT_FORMATS[self.export_format.currentText()]
            self.export(run, Path(folder) / f"{run.path.name}-{fmt}", fmt)

    def export(self, run: RunFolder, out: Path, fmt: str = "onnx") -> bool:
        """Export ``run``'s models to ``out`` in format ``fmt`` (``onnx-int8``: 8-bit ONNX
        calibrated on the open project's labelled frames) in a worker."""
        from ...models.export import export_run

        task, args = export_run, (run.path, out, fmt)
        if fmt == "onnx-int8":
            from ...inference.quantize import run_labels

            try:
                source = self.layers.rebuild().path
            except SleapTrainError:
                source = None
            source = source or run_labels(run.path)
            if source is None:
                show_error("Save the project first: the 8-bit export calibrates on its frames.")
                return False
            task, args = export_int8, (run.path, out, Path(source))

        def done(path: Path) -> None:
            self._exported(path, run)

        self._start(f"Exporting {run.path.name} to {out} …", done, task, *args)
        return True

    def _start(self, text: str, returned, task, *args) -> None:
        """Run ``task(*args)`` in a worker, ``text`` below the list meanwhile."""
        self.report.setPlainText(text)
        self.report.setVisible(True)
        self.worker = worker(task, *args)
        self.worker.returned.connect(returned)
        self.worker.errored.connect(self._failed)
        self.worker.finished.connect(self._finished)
        self._update_buttons()
        self.worker.start()

    def _exported(self, out: Path, run: RunFolder) -> None:
        from ...models.export import members_left_out

        text = (
            f"Exported to {out}. Predict with it: napari-sleap-train predict {out} VIDEO -o "
            "OUT.slp, or load it with napari_sleap_train.inference.pipelines.load_predictor. "
            f"{members_left_out(run.path)}"
        ).rstrip()
        self.report.setPlainText(text)
        show_info(f"Exported to {out}.")

    def evaluate(self, run: RunFolder) -> bool:
        """Measure ``run`` on the project's held-out labelled frames in a worker; False
        (with a message) when it cannot start."""
        from ...inference.evaluate_run import evaluate_run

        try:
            project = self.layers.rebuild()
        except SleapTrainError as exc:
            show_error(str(exc))
            return False
        self._start(
            f"Evaluating {run.path.name} …", self._show_report, evaluate_run, project, run.path
        )
        return True

    def _show_report(self, result) -> None:
        self.report.setPlainText(result.report())
        show_info(f"Evaluated on {result.n_frames} frames; the report is below the runs list.")
        self.evaluated.emit(result)

    def _failed(self, exc: Exception) -> None:
        exc = cause(exc)
        text = str(exc) if isinstance(exc, SleapTrainError) else f"That failed: {exc}"
        self.report.setPlainText(text)
        show_error(text)

    def _finished(self) -> None:
        self.worker = None
        self._update_buttons()

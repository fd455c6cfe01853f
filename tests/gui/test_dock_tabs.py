"""Both docks opened from the Plugins menu share one dock area as tabs."""

from __future__ import annotations

from qtpy.QtWidgets import QDockWidget

from napari_sleap_train.gui.dock_tabs import NAME_PREFIX


def _dock_of(widget) -> QDockWidget:
    while not isinstance(widget, QDockWidget):
        widget = widget.parentWidget()
    return widget


def test_both_docks_open_as_tabs_of_one_area(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(1400, 900)
    _, training = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    _, labelling = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert training.objectName() == NAME_PREFIX + "training"
    first, second = _dock_of(training), _dock_of(labelling)
    qtbot.waitUntil(lambda: first in window.tabifiedDockWidgets(second), timeout=5000)
    assert window.dockWidgetArea(first) == window.dockWidgetArea(second)
    # the second dock is in front and, not stacked under the first, has the area's height
    assert not second.visibleRegion().isEmpty()
    assert second.height() > 0.7 * window.centralWidget().height()

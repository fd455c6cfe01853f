"""Both docks as tabs of one dock area, so each keeps the window's full height.

napari stacks the docks a plugin opens in one area on top of each other, each with part of
the height. Each of our docks, once napari has docked it, joins the plugin's other dock in
its area as a tab and comes to the front.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QDockWidget, QMainWindow, QWidget

NAME_PREFIX = "napari-sleap-train: "
"""The object names of this plugin's dock widgets begin with this."""


class _OnFirstShow(QObject):
    """Tabs its widget with the plugin's other dock the first time the widget is shown."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name for it
        if event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, lambda: tab_with_siblings(watched))
        return False


def join_plugin_tabs(widget: QWidget, name: str) -> None:
    """Name ``widget`` as one of this plugin's docks and, when it is first shown, tab it with
    the plugin's other dock in the same area (nothing happens outside a napari window)."""
    widget.setObjectName(NAME_PREFIX + name)
    watcher = _OnFirstShow(widget)
    widget.installEventFilter(watcher)


def _ancestor(widget: QWidget | None, kind: type) -> QWidget | None:
    while widget is not None and not isinstance(widget, kind):
        widget = widget.parentWidget()
    return widget


def _is_ours(dock: QDockWidget) -> bool:
    inner = dock.widget()
    if inner is None:
        return False
    return any(
        w.objectName().startswith(NAME_PREFIX) for w in [inner, *inner.findChildren(QWidget)]
    )


def tab_with_siblings(widget: QWidget) -> bool:
    """Tab the dock holding ``widget`` with another of the plugin's docks in its area, and
    raise it; False when there is none (or ``widget`` is not docked)."""
    dock = _ancestor(widget.parentWidget(), QDockWidget)
    window = _ancestor(dock.parentWidget() if dock else None, QMainWindow)
    if dock is None or window is None:
        return False
    area = window.dockWidgetArea(dock)
    for other in window.findChildren(QDockWidget):
        if other is dock or other.isHidden() or window.dockWidgetArea(other) != area:
            continue
        if other.isFloating() or not _is_ours(other):
            continue
        if other not in window.tabifiedDockWidgets(dock):
            window.tabifyDockWidget(other, dock)
        dock.show()
        dock.raise_()
        return True
    return False

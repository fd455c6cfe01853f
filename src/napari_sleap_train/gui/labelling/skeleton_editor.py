"""A skeleton editor: node names, edges and left/right symmetry pairs (Qt only, no napari).

Nodes can be added, removed and renamed in place (double-click a name); edges and symmetry
pairs are chosen from the nodes. The editor remembers which project node each of its nodes
came from, so applying it to a project renames nodes instead of dropping their points.
"""

from __future__ import annotations

from pathlib import Path

import sleap_io as sio
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...errors import SkeletonError

ORIGIN_ROLE = Qt.ItemDataRole.UserRole  # the project node a node came from (None: new)
NAME_ROLE = Qt.ItemDataRole.UserRole + 1  # the name before an in-place edit


def load_skeleton_file(path: str | Path) -> sio.Skeleton:
    """The (first) skeleton of a ``.slp`` project, or of a sleap-io skeleton ``.json``."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            loaded = sio.load_skeleton(str(path))
            skeletons = loaded if isinstance(loaded, list) else [loaded]
        else:
            skeletons = list(sio.load_slp(str(path), open_videos=False).skeletons)
    except Exception as exc:  # noqa: BLE001 - any reader failure: say which file and why
        raise SkeletonError(f"Could not read a skeleton from {path.name}: {exc}") from exc
    if not skeletons:
        raise SkeletonError(f"{path.name} holds no skeleton.")
    return skeletons[0]


class SkeletonEditor(QWidget):
    """Edit a skeleton; ``changed`` is emitted after every edit."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.dirty = False
        self._edges: list[tuple[str, str]] = []
        self._symmetries: list[tuple[str, str]] = []

        self.nodes = QListWidget()
        self.nodes.setToolTip("Node names, in skeleton order. Double-click a name to rename it.")
        self.nodes.itemChanged.connect(self._item_renamed)
        self.node_name = QLineEdit()
        self.node_name.setPlaceholderText("new node name")
        self.node_name.returnPressed.connect(self._add_node_clicked)
        self.add_node_button = QPushButton("Add node")
        self.add_node_button.clicked.connect(self._add_node_clicked)
        self.remove_node_button = QPushButton("Remove node")
        self.remove_node_button.setToolTip(
            "Remove the selected node, its edges and symmetry pair (its points go on Apply)."
        )
        self.remove_node_button.clicked.connect(self._remove_node_clicked)

        self.edges = QListWidget()
        self.edge_a, self.edge_b = QComboBox(), QComboBox()
        self.add_edge_button = QPushButton("Add edge")
        self.add_edge_button.clicked.connect(
            lambda: self.add_edge(self.edge_a.currentText(), self.edge_b.currentText())
        )
        self.remove_edge_button = QPushButton("Remove edge")
        self.remove_edge_button.clicked.connect(lambda: self._remove_selected(self.edges))

        self.symmetries = QListWidget()
        self.symmetries.setToolTip(
            "Left/right pairs, swapped when training flips images (and by SLEAP)."
        )
        self.sym_a, self.sym_b = QComboBox(), QComboBox()
        self.add_symmetry_button = QPushButton("Add pair")
        self.add_symmetry_button.clicked.connect(
            lambda: self.add_symmetry(self.sym_a.currentText(), self.sym_b.currentText())
        )
        self.remove_symmetry_button = QPushButton("Remove pair")
        self.remove_symmetry_button.clicked.connect(lambda: self._remove_selected(self.symmetries))

        self.load_button = QPushButton("Load skeleton from .slp…")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip(
            "Use this skeleton: starts a project on a bare video, or updates the open "
            "project (renamed nodes keep their points, removed nodes lose them)."
        )
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff6060")

        grid = QGridLayout()
        grid.addWidget(QLabel("Nodes"), 0, 0)
        grid.addWidget(self.nodes, 1, 0)
        node_row = QHBoxLayout()
        node_row.addWidget(self.node_name)
        node_row.addWidget(self.add_node_button)
        node_row.addWidget(self.remove_node_button)
        grid.addLayout(node_row, 2, 0)
        grid.addWidget(QLabel("Edges"), 3, 0)
        grid.addWidget(self.edges, 4, 0)
        edge_row = QHBoxLayout()
        for w in (self.edge_a, self.edge_b, self.add_edge_button, self.remove_edge_button):
            edge_row.addWidget(w)
        grid.addLayout(edge_row, 5, 0)
        grid.addWidget(QLabel("Left/right symmetry pairs"), 6, 0)
        grid.addWidget(self.symmetries, 7, 0)
        sym_row = QHBoxLayout()
        for w in (self.sym_a, self.sym_b, self.add_symmetry_button, self.remove_symmetry_button):
            sym_row.addWidget(w)
        grid.addLayout(sym_row, 8, 0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

    # ----- reading ------------------------------------------------------------------
    def node_names(self) -> list[str]:
        return [self.nodes.item(i).text() for i in range(self.nodes.count())]

    def edge_names(self) -> list[tuple[str, str]]:
        return list(self._edges)

    def symmetry_names(self) -> list[tuple[str, str]]:
        return list(self._symmetries)

    def origins(self) -> dict[str, str | None]:
        """Each node's name -> the project node it came from (None for a new node)."""
        out = {}
        for i in range(self.nodes.count()):
            item = self.nodes.item(i)
            out[item.text()] = item.data(ORIGIN_ROLE)
        return out

    def skeleton(self) -> sio.Skeleton:
        """The skeleton as edited; raises :class:`SkeletonError` when it cannot be used."""
        names = self.node_names()
        if not names:
            raise SkeletonError("Add at least one node to the skeleton.")
        return sio.Skeleton(nodes=names, edges=list(self._edges), symmetries=list(self._symmetries))

    # ----- writing ------------------------------------------------------------------
    def set_skeleton(self, skeleton: sio.Skeleton | None, origins: dict | None = None) -> None:
        """Show ``skeleton``; ``origins`` maps node names to project nodes (default: same)."""
        self.nodes.blockSignals(True)
        self.nodes.clear()
        self._edges, self._symmetries = [], []
        if skeleton is not None:
            for name in skeleton.node_names:
                origin = name if origins is None else origins.get(name)
                self._append_item(name, origin)
            names = skeleton.node_names
            self._edges = [(names[a], names[b]) for a, b in skeleton.edge_inds]
            self._symmetries = [(names[a], names[b]) for a, b in skeleton.symmetry_inds]
        self.nodes.blockSignals(False)
        self.dirty = False
        self._sync()

    def load_file(self, path: str | Path, project_nodes: list[str] = ()) -> sio.Skeleton:
        """Show the skeleton of a file; nodes named like ``project_nodes`` keep their points."""
        skeleton = load_skeleton_file(path)
        known = set(project_nodes)
        self.set_skeleton(skeleton, {n: (n if n in known else None) for n in skeleton.node_names})
        self.dirty = True
        self.changed.emit()
        return skeleton

    def add_node(self, name: str) -> bool:
        name = name.strip()
        if not self._check_name(name):
            return False
        self.nodes.blockSignals(True)
        self._append_item(name, None)
        self.nodes.blockSignals(False)
        self._edited()
        return True

    def remove_node(self, name: str) -> None:
        for i in range(self.nodes.count()):
            if self.nodes.item(i).text() == name:
                self.nodes.takeItem(i)
                break
        self._edges = [e for e in self._edges if name not in e]
        self._symmetries = [s for s in self._symmetries if name not in s]
        self._edited()

    def rename_node(self, old: str, new: str) -> bool:
        new = new.strip()
        items = [self.nodes.item(i) for i in range(self.nodes.count())]
        item = next((it for it in items if it.text() == old), None)
        if item is None or (new != old and not self._check_name(new)):
            return False
        self.nodes.blockSignals(True)
        item.setText(new)
        item.setData(NAME_ROLE, new)
        self.nodes.blockSignals(False)
        self._rename_pairs(old, new)
        self._edited()
        return True

    def add_edge(self, a: str, b: str) -> bool:
        if not self._check_pair(a, b, self._edges, "edge"):
            return False
        self._edges.append((a, b))
        self._edited()
        return True

    def add_symmetry(self, a: str, b: str) -> bool:
        if not self._check_pair(a, b, self._symmetries, "symmetry pair"):
            return False
        paired = {n for pair in self._symmetries for n in pair}
        if a in paired or b in paired:
            self.message.setText(f"{a if a in paired else b!r} already has a symmetry pair.")
            return False
        self._symmetries.append((a, b))
        self._edited()
        return True

    # ----- internals ----------------------------------------------------------------
    def _append_item(self, name: str, origin: str | None) -> None:
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setData(ORIGIN_ROLE, origin)
        item.setData(NAME_ROLE, name)
        self.nodes.addItem(item)

    def _check_name(self, name: str) -> bool:
        if not name:
            self.message.setText("A node needs a name.")
            return False
        if name in self.node_names():
            self.message.setText(f"There is already a node named {name!r}.")
            return False
        return True

    def _check_pair(self, a: str, b: str, pairs: list, what: str) -> bool:
        names = self.node_names()
        if a not in names or b not in names:
            self.message.setText(f"Choose two nodes of the skeleton for the {what}.")
            return False
        if a == b:
            self.message.setText(f"An {what} joins two different nodes.")
            return False
        if (a, b) in pairs or (b, a) in pairs:
            self.message.setText(f"{a} – {b} is already an {what}.")
            return False
        return True

    def _item_renamed(self, item: QListWidgetItem) -> None:
        old, new = item.data(NAME_ROLE), item.text().strip()
        if new == old:
            return
        others = [self.nodes.item(i).text() for i in range(self.nodes.count())]
        others.remove(item.text())
        self.nodes.blockSignals(True)
        if not new or new in others:
            self.message.setText(
                "A node needs a name." if not new else f"There is already a node named {new!r}."
            )
            item.setText(old)
        else:
            item.setText(new)
            item.setData(NAME_ROLE, new)
            self._rename_pairs(old, new)
        self.nodes.blockSignals(False)
        if new and new not in others:
            self._edited()

    def _rename_pairs(self, old: str, new: str) -> None:
        def swap(pair):
            return tuple(new if n == old else n for n in pair)

        self._edges = [swap(e) for e in self._edges]
        self._symmetries = [swap(s) for s in self._symmetries]

    def _remove_selected(self, listing: QListWidget) -> None:
        row = listing.currentRow()
        if row < 0:
            self.message.setText("Select an entry to remove first.")
            return
        pairs = self._edges if listing is self.edges else self._symmetries
        del pairs[row]
        self._edited()

    def _add_node_clicked(self) -> None:
        if self.add_node(self.node_name.text()):
            self.node_name.clear()

    def _remove_node_clicked(self) -> None:
        item = self.nodes.currentItem()
        if item is None:
            self.message.setText("Select a node to remove first.")
            return
        self.remove_node(item.text())

    def _edited(self) -> None:
        self.dirty = True
        self.message.clear()
        self._sync()
        self.changed.emit()

    def _sync(self) -> None:
        """Refresh the edge and symmetry lists and the node choices."""
        names = self.node_names()
        for combo in (self.edge_a, self.edge_b, self.sym_a, self.sym_b):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            combo.blockSignals(False)
        if len(names) > 1 and self.edge_a.currentText() == self.edge_b.currentText():
            self.edge_b.setCurrentIndex(1)
            self.sym_b.setCurrentIndex(1)
        for listing, pairs in ((self.edges, self._edges), (self.symmetries, self._symmetries)):
            listing.clear()
            listing.addItems([f"{a} – {b}" for a, b in pairs])

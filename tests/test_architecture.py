"""The house rules, checked on the source: the engine free of Qt, no upward imports, no
circles, no module over 500 lines and no class over 300.

Imports inside functions count (a lazy import still ties two rooms); imports under
``if TYPE_CHECKING:`` do not. Each rule is also checked to fail on a planted violation.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_sleap_train"
NAME = PACKAGE.name

LAYERS: list[set[str]] = [
    {"", "errors", "choices"},
    {"atomic"},
    {"config", "models", "sample"},
    {"io"},
    {"data"},
    {"evaluation", "tracking"},
    {"inference"},
    {"training", "suggestions"},
    {"cli", "gui"},
    {"__main__"},
]
"""The rooms of the package, bottom first. A module imports only from its own room and the
rooms of lower layers; rooms of one layer never import each other. ``""`` is the package's
``__init__``."""

GUI_LAYERS: list[set[str]] = [
    {"", "last_config", "dock_tabs", "workers"},
    {"layers"},
    {"training", "labelling"},
]
"""The same inside ``gui/``: both docks use the layers room, never each other."""

COMPAT = {"project"}
"""Modules kept at their old path for users' imports; nothing in the package imports them."""

GUI_LIBRARIES = {
    "napari",
    "qtpy",
    "magicgui",
    "superqt",
    "pyqtgraph",
    "vispy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
}
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def _modules(root: Path) -> dict[str, Path]:
    """Dotted names (without the package's) of every module under ``root``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """Every absolute module name ``path`` imports, with its line (TYPE_CHECKING aside).

    ``from . import a, b`` of submodules imports ``a`` and ``b``, not the package itself.
    """
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [part for part in package if part]
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = [NAME, *package][: len(package) + 2 - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            subs = [f"{module}.{alias.name}" for alias in node.names]
            subs = [s for s in subs if s[len(NAME) + 1 :] in modules]
            found += [(s, node.lineno) for s in subs]
            if len(subs) < len(node.names):
                found.append((module, node.lineno))
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """For each module of the package at ``root``: the package's modules it imports (and the
    line), and the outside top-level packages it imports under the key ``"<outside>"``."""
    modules = _modules(root)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        outside: dict[str, int] = {}
        for module, line in _imports(name, path, modules):
            if module == NAME or module.startswith(NAME + "."):
                inner = module[len(NAME) + 1 :]
                while inner not in modules:  # a name imported from a module: the module
                    inner = inner.rpartition(".")[0]
                if inner != name:
                    edges.setdefault(inner, line)
            else:
                outside.setdefault(module.split(".")[0], line)
        graph[name] = {**edges, **{f"<outside>{k}": v for k, v in outside.items()}}
    return graph


def _room(name: str) -> tuple[str, str]:
    """(room, gui room) of a module: ``gui.training.dock`` is in room gui, gui room training."""
    parts = name.split(".")
    return parts[0], (parts[1] if parts[0] == "gui" and len(parts) > 1 else "")


def _rooms(layers: list[set[str]]) -> set[str]:
    return set().union(*layers)


def _rank(layers: list[set[str]], room: str) -> int:
    for rank, rooms in enumerate(layers):
        if room in rooms:
            return rank
    raise KeyError(room)


def _layer_problem(layers: list[set[str]], a: str, b: str) -> str | None:
    """Why room ``a`` may not import room ``b`` (None when it may)."""
    if a == b or b not in _rooms(layers):  # a module in no room is reported on its own
        return None
    ra, rb = _rank(layers, a), _rank(layers, b)
    if rb > ra:
        return "imports upward"
    if rb == ra:
        return "imports a room of its own layer"
    return None


def violations(root: Path = PACKAGE) -> list[str]:
    """Every broken house rule of the package at ``root``, one line each."""
    found = []
    graph = import_graph(root)
    modules = _modules(root)
    for name, edges in graph.items():
        room, gui_room = _room(name)
        where = f"{name or '__init__'}"
        if room not in _rooms(LAYERS):
            if name in COMPAT:
                continue
            found.append(f"{where}: in no room of LAYERS (add it to a room)")
            continue
        if room == "gui" and gui_room not in _rooms(GUI_LAYERS):
            found.append(f"{where}: in no room of GUI_LAYERS (add it to a room)")
            continue
        for target, line in edges.items():
            if target.startswith("<outside>"):
                library = target[len("<outside>") :]
                if room != "gui" and library in GUI_LIBRARIES:
                    found.append(f"{where}:{line}: the engine imports {library}")
                continue
            if target in COMPAT:
                found.append(f"{where}:{line}: imports {target}, kept only for users' imports")
                continue
            t_room, t_gui = _room(target)
            problem = _layer_problem(LAYERS, room, t_room)
            if problem is None and room == t_room == "gui":
                problem = _layer_problem(GUI_LAYERS, gui_room, t_gui)
            if problem:
                found.append(f"{where}:{line}: {problem} ({target})")
    found += [f"import circle: {' -> '.join(cycle)}" for cycle in circles(graph)]
    for name, path in modules.items():
        text = path.read_text()
        lines = text.count("\n") + (not text.endswith("\n"))
        if lines > MAX_MODULE_LINES:
            found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    found.append(
                        f"{name}.{node.name}: {size} lines (a class at most {MAX_CLASS_LINES})"
                    )
    return found


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import circles among the package's modules (Tarjan's strongly connected sets)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    result = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt.startswith("<outside>"):
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                result.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return result


def test_the_package_keeps_the_house_rules():
    assert violations() == []


@pytest.fixture
def planted(tmp_path) -> Path:
    """A copy of the package to plant violations in."""
    return Path(shutil.copytree(PACKAGE, tmp_path / NAME))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_engine_importing_qt_is_found(planted):
    _append(planted / "data" / "geometry.py", "\n\ndef _f():\n    from qtpy import QtCore\n")
    assert any("data.geometry" in v and "the engine imports qtpy" in v for v in violations(planted))


def test_upward_import_is_found(planted):
    _append(planted / "inference" / "peaks.py", "\nfrom ..training import events  # noqa\n")
    assert any(
        "inference.peaks" in v and "imports upward (training.events)" in v
        for v in violations(planted)
    )


def test_docks_importing_each_other_is_found(planted):
    _append(planted / "gui" / "labelling" / "keys.py", "\nfrom ..training import monitor\n")
    assert any(
        "gui.labelling.keys" in v and "own layer (gui.training.monitor)" in v
        for v in violations(planted)
    )


def test_lazy_import_circle_is_found(planted):
    # errors.py imports nothing; a lazy import of a module that imports it closes a circle
    _append(planted / "errors.py", "\n\ndef _f():\n    from . import atomic\n")
    assert "import circle: atomic -> errors" in violations(planted)


def test_type_checking_imports_do_not_count(planted):
    _append(
        planted / "errors.py",
        "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .gui import META_KEY\n",
    )
    assert violations(planted) == []


def test_long_module_and_class_are_found(planted):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_CLASS_LINES + 1))
    _append(planted / "choices.py", f"\n\nclass Big:\n{body}")
    found = violations(planted)
    assert any(v.startswith("choices.Big:") for v in found)
    assert any(v.startswith("choices:") and "at most 500" in v for v in found)


def test_compat_module_is_not_used_inside(planted):
    _append(planted / "cli" / "options.py", "\nfrom ..project import Project  # noqa\n")
    assert any(
        "cli.options" in v and "kept only for users' imports" in v for v in violations(planted)
    )


def test_old_import_paths_that_users_reach_still_work():
    from napari_sleap_train.io.project import Project, load_project
    from napari_sleap_train.project import Project as OldProject
    from napari_sleap_train.project import load_project as old_load_project

    assert (OldProject, old_load_project) == (Project, load_project)


def test_dock_workers_go_through_gui_workers():
    """superqt's worker drops an exception that is a RuntimeError without telling the dock
    (our user-facing errors are): every dock's background work goes through
    ``gui/workers.worker``, which carries it out."""
    users = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "thread_worker" in path.read_text() and path.name != "workers.py"
    ]
    assert users == []

"""The package's rooms: every module imports alone, and no room imports a room above it."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import xray_anomalib_plugins

import xray_anomalib

# The rooms from the bottom up; a module may import its own room and the rooms below it.
LAYERS = {
    "utils": 0,
    "io": 1,
    "film_pipeline": 2,
    "data": 3,
    "metrics": 3,
    "callbacks": 3,
    "post_processing": 3,
    "visualization": 3,
    "models": 4,
    "registry": 5,
    "deploy": 5,
    "benchmark": 6,
    "cli": 7,
}


def _modules() -> list[str]:
    names = []
    for package in (xray_anomalib, xray_anomalib_plugins):
        names += [module.name for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return sorted(names)


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "xray_anomalib" and len(parts) > 1 else None


def _imported_rooms(path: Path) -> set[str]:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        rooms |= {room for name in names if (room := _room(name)) is not None}
    return rooms


def test_every_room_is_known() -> None:
    """A new top-level module or package is given its place in the layers here."""
    top = {_room(name) for name in _modules() if name.startswith("xray_anomalib.")}
    assert top == set(LAYERS)


@pytest.mark.parametrize("module", [name for name in _modules() if name.startswith("xray_anomalib.")])
def test_no_room_imports_a_room_above_it(module: str) -> None:
    """Film reading is a leaf, preprocessing uses it, data both, models data's types, deploy and benchmark on top."""
    spec = pkgutil.resolve_name(module).__spec__
    assert spec is not None
    assert spec.origin is not None
    room = _room(module)
    above = {imported for imported in _imported_rooms(Path(spec.origin)) if LAYERS[imported] > LAYERS[room]}
    assert not above, f"{module} (room {room}) imports {sorted(above)}, which stand above it"


def test_plugins_stand_on_models_and_below_deploy() -> None:
    """Plugins use the models' components (and the registry), never deploy, benchmark or the CLI."""
    for module in _modules():
        if module.startswith("xray_anomalib_plugins."):
            origin = pkgutil.resolve_name(module).__spec__.origin
            assert not _imported_rooms(Path(origin)) & {"deploy", "benchmark", "cli"}, module


def _executed_imports(path: Path, module: str) -> set[str]:
    """Modules that importing ``module`` executes at once: its top-level imports and their packages."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    known = set(_modules())
    executed = set()
    for name in names & known:
        parts = name.split(".")
        executed |= {".".join(parts[:end]) for end in range(2, len(parts) + 1)}
    ancestors = {".".join(module.split(".")[:end]) for end in range(1, module.count(".") + 2)}
    return executed & known - ancestors


def test_module_imports_form_no_cycle() -> None:
    """No chain of top-level imports leads back to where it started, so every module imports alone.

    (A cycle is what made ``import xray_anomalib.preprocessing.cache`` fail unless ``xray_anomalib.data`` had been
    imported first.)
    """
    graph = {name: _executed_imports(Path(pkgutil.resolve_name(name).__spec__.origin), name) for name in _modules()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            pytest.fail(f"import cycle: {cycle}")
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())


@pytest.mark.parametrize("module", ["xray_anomalib.film_pipeline.cache", "xray_anomalib.io.films"])
def test_low_rooms_import_alone_in_a_fresh_interpreter(module: str) -> None:
    """The module that once failed alone, and the leaf of film reading, import in a fresh process."""
    run = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr


def test_every_plugin_folder_has_its_readme() -> None:
    """As anomalib's model folders do, each plugin says what it is, its scores, its config and what it measured."""
    folders = [Path(path) for path in xray_anomalib_plugins.__path__]
    plugins = [child for folder in folders for child in folder.iterdir() if (child / "__init__.py").is_file()]
    assert len(plugins) >= 6
    assert [plugin.name for plugin in plugins if not (plugin / "README.md").is_file()] == []

"""Classes named by their import path (``module.Class``), as anomalib's YAML ``class_path`` names them."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any

MAX_REEXPORTS = 4
"""``from module import Class`` hops followed when a class is looked up in source (package ``__init__`` files)."""


def import_class(class_path: str) -> type[Any]:
    """Import the class named by ``module.Class``."""
    module_name, _, class_name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def class_path_of(value: object) -> str:
    """The ``module.Class`` path of ``value``'s class."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def class_docstring(class_path: str) -> str | None:
    """The docstring of the class named by ``module.Class``, read from its source file without importing it.

    Re-exports (``from .module import Class`` in a package's ``__init__``) are followed. Importing a model class
    loads torch and anomalib (seconds); reading its source takes milliseconds.

    Returns:
        The docstring, or ``None`` when the source cannot be found (a compiled module) or holds no such class.
    """
    module_name, _, class_name = class_path.rpartition(".")
    for _ in range(MAX_REEXPORTS + 1):
        source = _module_source(module_name)
        if source is None:
            return None
        found = _find_class(ast.parse(source.read_bytes()), class_name)
        if isinstance(found, ast.ClassDef):
            return ast.get_docstring(found)
        if found is None:
            return None
        statement, class_name = found
        package = module_name if source.name == "__init__.py" else module_name.rpartition(".")[0]
        module_name = importlib.util.resolve_name("." * statement.level + (statement.module or ""), package)
    return None


def _find_class(tree: ast.Module, name: str) -> ast.ClassDef | tuple[ast.ImportFrom, str] | None:
    """The definition of class ``name`` in a module, or the import it comes from with its name there."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return node, alias.name
    return None


def _module_source(module_name: str) -> Path | None:
    """The ``.py`` file of a module, found from its top-level package without importing the module."""
    top, *parts = module_name.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    if not spec.submodule_search_locations:
        origin = Path(spec.origin or "")
        return origin if not parts and origin.suffix == ".py" else None
    for location in spec.submodule_search_locations:
        base = Path(location).joinpath(*parts)
        for candidate in (base / "__init__.py", base.with_suffix(".py")) if parts else (base / "__init__.py",):
            if candidate.is_file():
                return candidate
    return None

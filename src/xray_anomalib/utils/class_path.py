"""Classes named by their import path (``module.Class``), as anomalib's YAML ``class_path`` names them."""

from __future__ import annotations

import importlib
from typing import Any


def import_class(class_path: str) -> type[Any]:
    """Import the class named by ``module.Class``."""
    module_name, _, class_name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def class_path_of(value: object) -> str:
    """The ``module.Class`` path of ``value``'s class."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"

"""Reading text files (label CSVs, MURA's CSVs, YAML configs) as UTF-8, with the file and line of what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class TextEncodingError(ValueError):
    """Raised when a text file holds a byte sequence that is not UTF-8."""


def read_utf8(path: str | Path) -> str:
    """The text of ``path``, decoded as UTF-8 (a byte-order mark is dropped).

    Raises:
        TextEncodingError: Naming the file, the line and the byte, e.g. a Latin-1 ``é`` saved by a spreadsheet.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        msg = f"{path}, line {line}: byte {raw[error.start]:#04x} is not UTF-8; save the file as UTF-8."
        raise TextEncodingError(msg) from error


class ConfigFileError(ValueError):
    """Raised when a YAML config is missing, a folder, or not valid YAML; the message names the file and where."""


def read_yaml(path: str | Path, example: str) -> Any:  # whatever the YAML holds
    """The parsed content of a YAML file (``{}`` when it is empty).

    Args:
        path: The file.
        example: A file of the expected kind, named in the message when ``path`` is a folder.

    Raises:
        ConfigFileError: When the file is missing or a folder, or its YAML is broken (with line and column).
        TextEncodingError: When it is not UTF-8.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"{path} is a folder; expected a YAML file such as {example}."
        raise ConfigFileError(msg)
    if not path.is_file():
        msg = f"Config not found: {path}."
        raise ConfigFileError(msg)
    try:
        return yaml.safe_load(read_utf8(path)) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        msg = f"{path}: not valid YAML{where} ({getattr(error, 'problem', None) or error})."
        raise ConfigFileError(msg) from error

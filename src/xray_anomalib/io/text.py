"""Reading text files (label CSVs, MURA's CSVs) as UTF-8, with the file and line of a byte that is not."""

from __future__ import annotations

from pathlib import Path


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

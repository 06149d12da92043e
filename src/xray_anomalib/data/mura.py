"""Read the MURA-v1.1 layout into one table with a row per image.

MURA ships four CSVs beside its ``train/`` and ``valid/`` folders::

    MURA-v1.1/
        train_image_paths.csv      MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image1.png
        train_labeled_studies.csv  MURA-v1.1/train/XR_HAND/patient00001/study1_positive/,1
        valid_image_paths.csv
        valid_labeled_studies.csv
        train/XR_HAND/patient00001/study1_positive/image1.png
        ...

Stanford's files carry no header line; some copies do. Both are accepted. Without CSVs the folders are
walked and the label is read from the study folder's name. Only the metadata is read here: no pixels.

Example:
    >>> index = read_mura_index("datasets/MURA-v1.1", body_parts=["XR_HAND"])  # doctest: +SKIP
    >>> index.groupby("study_label").size()  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

import pandas as pd

from xray_anomalib.io.films import FILM_SUFFIXES
from xray_anomalib.io.text import TextEncodingError, read_utf8

BODY_PARTS = ("XR_ELBOW", "XR_FINGER", "XR_FOREARM", "XR_HAND", "XR_HUMERUS", "XR_SHOULDER", "XR_WRIST")
MURA_PARTS = ("train", "valid")
logger = logging.getLogger(__name__)

INDEX_COLUMNS = ("patient_id", "study_id", "study_label", "body_part", "mura_part", "rel_path", "image_path")

_STUDY_RE = re.compile(r"^study\d+_(positive|negative)$")


class MuraLayoutError(ValueError):
    """Raised when a folder or CSV does not have the MURA-v1.1 shape."""


def normalise_body_parts(body_parts: str | Iterable[str]) -> tuple[str, ...]:
    """Return body parts as upper-case ``XR_*`` names, refusing unknown ones.

    Args:
        body_parts: One name or several; ``"hand"``, ``"XR_HAND"`` and ``"all"`` are accepted.

    Returns:
        The canonical names, in the order of ``BODY_PARTS``.
    """
    names = [body_parts] if isinstance(body_parts, str) else list(body_parts)
    if not names:
        msg = f"No body part given; expected one or more of {', '.join(BODY_PARTS)} (or 'all')."
        raise MuraLayoutError(msg)
    if any(name.lower() == "all" for name in names):
        return BODY_PARTS
    canonical = {name.upper() if name.upper().startswith("XR_") else f"XR_{name.upper()}" for name in names}
    unknown = sorted(canonical - set(BODY_PARTS))
    if unknown:
        msg = f"Unknown body part(s) {unknown}; expected one or more of {', '.join(BODY_PARTS)} (or 'all')."
        raise MuraLayoutError(msg)
    return tuple(part for part in BODY_PARTS if part in canonical)


def read_mura_index(
    root: str | Path,
    body_parts: str | Sequence[str] = ("XR_HAND",),
    mura_parts: Sequence[str] = MURA_PARTS,
) -> pd.DataFrame:
    """Index a MURA-v1.1 root: one row per image with patient, study, label and path.

    Args:
        root: The MURA-v1.1 folder (the one holding the CSVs and the ``train``/``valid`` folders).
        body_parts: Body parts to keep (``XR_HAND`` by default, ``"all"`` for the seven).
        mura_parts: MURA's own parts to read, ``train`` and/or ``valid``.

    Returns:
        A DataFrame with the columns of ``INDEX_COLUMNS``; ``rel_path`` is relative to ``root``
        (POSIX form), ``image_path`` is absolute. Images need not exist on disk.

    Raises:
        FileNotFoundError: When ``root`` does not exist.
        MuraLayoutError: When the CSVs or the folders are not MURA-shaped, a study has no label,
            or nothing matches the requested body parts.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        msg = f"MURA root {root} does not exist or is not a folder."
        raise FileNotFoundError(msg)
    parts = _check_mura_parts(mura_parts)
    wanted = normalise_body_parts(body_parts)
    frames = [_read_part(root, part) for part in parts]
    index = pd.concat(frames, ignore_index=True)
    index = index[index["body_part"].isin(wanted)]
    if index.empty:
        msg = f"No images of {list(wanted)} in the {list(parts)} part(s) of {root}."
        raise MuraLayoutError(msg)
    index = index.sort_values("rel_path", ignore_index=True)
    index["image_path"] = [str(root / rel) for rel in index["rel_path"]]
    return index.loc[:, list(INDEX_COLUMNS)]


def _check_mura_parts(mura_parts: Sequence[str]) -> tuple[str, ...]:
    parts = tuple(mura_parts)
    bad = [part for part in parts if part not in MURA_PARTS]
    if bad or not parts:
        msg = f"MURA parts must be a non-empty subset of {MURA_PARTS}, got {list(parts)}."
        raise MuraLayoutError(msg)
    return parts


def _read_part(root: Path, part: str) -> pd.DataFrame:
    images_csv = root / f"{part}_image_paths.csv"
    studies_csv = root / f"{part}_labeled_studies.csv"
    if images_csv.is_file() or studies_csv.is_file():
        for path in (images_csv, studies_csv):
            if not path.is_file():
                msg = f"{path} is missing: MURA's CSVs come in pairs ({images_csv.name}, {studies_csv.name})."
                raise MuraLayoutError(msg)
        return _rows_from_csv(images_csv, studies_csv, part)
    if (root / part).is_dir():
        return _rows_from_folders(root, part)
    msg = (
        f"{root} is not MURA-shaped: expected {images_csv.name} and {studies_csv.name}, "
        f"or a '{part}/XR_<BODY_PART>/patient<ID>/study<N>_<positive|negative>/' folder tree."
    )
    raise MuraLayoutError(msg)


def read_csv_text(path: Path) -> str:
    """The text of a CSV of the dataset, as UTF-8.

    Raises:
        MuraLayoutError: Naming the file, line and byte where it is not UTF-8.
    """
    try:
        return read_utf8(path)
    except TextEncodingError as error:
        raise MuraLayoutError(str(error)) from error


def _read_csv_rows(path: Path, n_columns: int) -> list[list[str]]:
    """Read a MURA CSV, dropping a header line if there is one."""
    text = read_csv_text(path)
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row and any(cell.strip() for cell in row)]
    if rows and "/" not in rows[0][0]:
        rows = rows[1:]  # a header line such as "Img_Path,Label"
    for line, row in enumerate(rows, start=1):
        if len(row) < n_columns:
            msg = f"{path}: row {line} {row} has {len(row)} column(s), expected {n_columns}."
            raise MuraLayoutError(msg)
    if not rows:
        msg = f"{path} holds no rows."
        raise MuraLayoutError(msg)
    return rows


def _relative_to_root(entry: str, part: str, source: Path) -> PurePosixPath:
    """Turn a CSV entry (``MURA-v1.1/train/XR_HAND/...``) into a path below the root."""
    path = PurePosixPath(entry.strip().replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        msg = f"{source}: entry {entry!r} points outside the dataset root; MURA entries are relative paths."
        raise MuraLayoutError(msg)
    parts = path.parts
    if part not in parts[:2]:
        msg = f"{source}: entry {entry!r} is not below '{part}/'; expected 'MURA-v1.1/{part}/XR_.../patient.../...'."
        raise MuraLayoutError(msg)
    return PurePosixPath(*parts[parts.index(part) :])


def _study_key(rel: PurePosixPath, source: Path) -> tuple[str, str, str]:
    """Return (body part, patient folder, study folder) of a path ``part/XR_X/patientN/studyM_label[/image]``."""
    if len(rel.parts) < 4 or not rel.parts[2].startswith("patient"):
        msg = f"{source}: {rel} is not 'part/XR_<BODY_PART>/patient<ID>/study<N>_<label>/'."
        raise MuraLayoutError(msg)
    return rel.parts[1], rel.parts[2], rel.parts[3]


def _rows_from_csv(images_csv: Path, studies_csv: Path, part: str) -> pd.DataFrame:
    labels: dict[tuple[str, str, str], int] = {}
    for entry, label, *_ in _read_csv_rows(studies_csv, 2):
        key = _study_key(_relative_to_root(entry, part, studies_csv), studies_csv)
        if label.strip() not in {"0", "1"}:
            msg = f"{studies_csv}: study {entry!r} has label {label!r}, expected 0 or 1."
            raise MuraLayoutError(msg)
        labels[key] = int(label)
    records = []
    for entry, *_ in _read_csv_rows(images_csv, 1):
        rel = _relative_to_root(entry, part, images_csv)
        key = _study_key(rel, images_csv)
        if key not in labels:
            msg = f"{images_csv}: image {entry!r} belongs to a study that {studies_csv.name} does not label."
            raise MuraLayoutError(msg)
        records.append(_record(rel, part, labels[key]))
    return pd.DataFrame.from_records(records, columns=INDEX_COLUMNS[:-1])


def study_label(folder_name: str) -> int | None:
    """The label in a MURA study folder's name (``study1_positive``: 1, ``study2_negative``: 0), or ``None``."""
    match = _STUDY_RE.match(folder_name)
    return None if match is None else int(match.group(1) == "positive")


def _rows_from_folders(root: Path, part: str) -> pd.DataFrame:
    records, ignored = [], []
    for path in sorted((root / part).glob("XR_*/patient*/*/*")):  # fixed depth: link loops cannot recurse
        if path.suffix.lower() not in FILM_SUFFIXES or not path.is_file():
            ignored.append(path)
            continue
        rel = PurePosixPath(path.relative_to(root).as_posix())
        label = study_label(rel.parts[3])
        if label is None:
            msg = (
                f"Study folder {path.parent} has no label: expected a name like 'study1_positive' or 'study1_negative'."
            )
            raise MuraLayoutError(msg)
        records.append(_record(rel, part, label))
    if ignored:
        logger.warning(
            "%d entries in the study folders of %s are not film files and are ignored, e.g. %s",
            len(ignored),
            root / part,
            ignored[0],
        )
    if not records:
        layout = f"{part}/XR_<BODY_PART>/patient<ID>/study<N>_<label>/image<K>.png"
        msg = f"No images under {root / part}; expected '{layout}'."
        raise MuraLayoutError(msg)
    return pd.DataFrame.from_records(records, columns=INDEX_COLUMNS[:-1])


def _record(rel: PurePosixPath, part: str, label: int) -> tuple:
    body_part, patient, study = rel.parts[1], rel.parts[2], rel.parts[3]
    return patient, f"{part}/{body_part}/{patient}/{study}", label, body_part, part, rel.as_posix()

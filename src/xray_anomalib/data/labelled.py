"""Read a user's labelled films (a CSV of ``path,label``) into the index that every datamodule splits.

The CSV needs ``path`` (relative to the root, or absolute) and ``label`` (0 normal, 1 anomalous); ``patient_id``,
``study_id`` and ``body_part`` are optional. Where a row has no patient id, a DICOM film gives its ``PatientID``
and ``StudyInstanceUID`` tags, and any other film is its own patient and study; the ``patient_source`` column
says which (``csv``, ``dicom`` or ``film``).

Example ``labels.csv``::

    path,label,patient_id
    normal/a.png,0,p1
    abnormal/b.dcm,1,

Example:
    >>> index = read_labelled_index("films/labels.csv", "films")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path, PurePosixPath

import pandas as pd

from xray_anomalib.data.mura import INDEX_COLUMNS, MuraLayoutError, read_csv_text
from xray_anomalib.io.dicom_tags import read_dicom_identity
from xray_anomalib.io.films import DICOM_SUFFIXES

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("path", "label")
OPTIONAL_COLUMNS = ("patient_id", "study_id", "body_part")


def read_labelled_index(labels: str | Path, root: str | Path) -> pd.DataFrame:
    """Index the films of a labels CSV.

    Args:
        labels: The CSV (UTF-8, a header line naming its columns).
        root: The folder that relative paths start from.

    Returns:
        The columns of :data:`~xray_anomalib.data.mura.INDEX_COLUMNS` plus ``patient_source``. Films need not
        exist on disk (missing ones are counted and reported by the datamodule).

    Raises:
        FileNotFoundError: When the CSV does not exist.
        MuraLayoutError: Naming the file and line of a missing column, an empty path, a label that is not 0/1, a
            film listed twice, or a byte that is not UTF-8.
    """
    labels, root = Path(labels), Path(root)
    if not labels.is_file():
        msg = f"Labels CSV {labels} does not exist; expected a CSV with columns {', '.join(REQUIRED_COLUMNS)}."
        raise FileNotFoundError(msg)
    rows = _read_rows(labels)
    records: list[tuple] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        where = f"{labels}, line {line}"
        entry = (row.get("path") or "").strip()
        if not entry:
            msg = f"{where}: the path is empty."
            raise MuraLayoutError(msg)
        label = (row.get("label") or "").strip()
        if label not in {"0", "1"}:
            msg = f"{where} ({entry}): label {label!r}, expected 0 (normal) or 1 (anomalous)."
            raise MuraLayoutError(msg)
        path = Path(entry) if Path(entry).is_absolute() else root / entry
        rel = PurePosixPath(path.relative_to(root).as_posix()) if path.is_relative_to(root) else PurePosixPath(entry)
        if str(rel) in seen:
            msg = f"{where}: {entry} is listed again (first on line {seen[str(rel)]})."
            raise MuraLayoutError(msg)
        seen[str(rel)] = line
        patient, study, source = _identity(row, path, rel)
        records.append(
            (patient, study, int(label), (row.get("body_part") or "").strip(), "train", str(rel), str(path), source)
        )
    index = pd.DataFrame.from_records(records, columns=[*INDEX_COLUMNS, "patient_source"])
    sources = index["patient_source"].value_counts().to_dict()
    logger.info("Patient ids of %s: %s", labels, ", ".join(f"{count} from {name}" for name, count in sources.items()))
    if sources.get("film"):
        logger.info("%d film(s) have no patient id and count as their own patient and study.", sources["film"])
    return index.sort_values("rel_path", ignore_index=True)


def _read_rows(labels: Path) -> list[tuple[int, dict[str, str]]]:
    """The CSV's rows with their line numbers, refusing a missing column or a byte that is not UTF-8."""
    reader = csv.DictReader(io.StringIO(read_csv_text(labels), newline=""))
    columns = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = columns
    rows = [(reader.line_num, row) for row in reader if any((value or "").strip() for value in row.values())]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        expected = f"expected {list(REQUIRED_COLUMNS)} and optionally {list(OPTIONAL_COLUMNS)}"
        msg = f"{labels} lacks column(s) {missing}; {expected}."
        raise MuraLayoutError(msg)
    if not rows:
        msg = f"{labels} lists no films."
        raise MuraLayoutError(msg)
    return rows


def _identity(row: dict[str, str], path: Path, rel: PurePosixPath) -> tuple[str, str, str]:
    """Patient id, study id and where they came from (``csv``, ``dicom`` or ``film``)."""
    patient, study = (row.get("patient_id") or "").strip(), (row.get("study_id") or "").strip()
    if patient:
        return patient, study or f"{patient}/{rel}", "csv"
    tags = read_dicom_identity(path) if path.suffix.lower() in DICOM_SUFFIXES else None
    if tags is not None:
        return tags.patient_id, study or tags.study_uid or f"{tags.patient_id}/{path.name}", "dicom"
    return str(rel), study or str(rel), "film"

"""Read FracAtlas' own layout into the index that every datamodule splits.

FracAtlas (Abedeen et al., Scientific Data 10, 2023) is published as::

    FracAtlas/
        dataset.csv                     image_id,hand,leg,hip,shoulder,mixed,hardware,multiscan,fractured,...
        images/Fractured/IMG0000019.jpg
        images/Non_fractured/IMG0000000.jpg
        Annotations/COCO JSON/COCO_fracture_masks.json

It has no patient ids: every film is its own patient (and its own study), which the log says. Body parts are flag
columns, several of which may be set on one film (a ``mixed`` film); ``hardware`` marks implants, which occur
almost only on fractured films, a shortcut a detector can take.

The flag misses some metal. Every leg, hip and shoulder film (1,279) was looked at by eye for metal that
``hardware`` does not mark; :func:`read_metal_review` returns what was found (``in_body``: implants; ``on_body``:
clothing fasteners, beads, jewellery, clips, a shield). Lead side markers, on most films, are not listed, and
small objects may have been missed (200 px contact sheets, then each candidate at 400 px). Films with the ``hand``
flag were not reviewed.

Example:
    >>> index = read_fracatlas_index("FracAtlas", body_parts=["leg", "hip"], implants="exclude")  # doctest: +SKIP
    >>> index = read_fracatlas_index("FracAtlas", implants="exclude", reviewed_metal="exclude")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import pandas as pd

from xray_anomalib.data.mura import INDEX_COLUMNS, MuraLayoutError, read_csv_text
from xray_anomalib.utils.choices import Choice

logger = logging.getLogger(__name__)

FRACATLAS_BODY_PARTS = ("hand", "leg", "hip", "shoulder")
FRACATLAS_CSV = "dataset.csv"
FRACATLAS_COCO = Path("Annotations") / "COCO JSON" / "COCO_fracture_masks.json"
LABEL_FOLDERS = {1: "Fractured", 0: "Non_fractured"}
METAL_REVIEW = "fracatlas_metal_review.csv"
_FLAG_COLUMNS = (*FRACATLAS_BODY_PARTS, "hardware", "fractured")


class Implants(Choice):
    """Which films with implants (FracAtlas' ``hardware`` flag) are kept."""

    INCLUDE = "include"
    EXCLUDE = "exclude"
    ONLY = "only"


class ReviewedMetal(Choice):
    """Which films the metal review (:func:`read_metal_review`) found metal on are kept."""

    INCLUDE = "include"
    EXCLUDE_IN_BODY = "exclude_in_body"  # implants the ``hardware`` flag misses
    EXCLUDE = "exclude"  # any metal the review found, on the body as well as in it

    @property
    def dropped_kinds(self) -> tuple[str, ...]:
        """The review's ``metal`` values whose films are dropped."""
        return {"include": (), "exclude_in_body": ("in_body",), "exclude": ("in_body", "on_body")}[self.value]


def read_metal_review() -> pd.DataFrame:
    """FracAtlas films without the ``hardware`` flag on which a review by eye found metal.

    Returns:
        One row per film: ``image_id`` (FracAtlas' file name), ``fractured``, ``metal`` (``in_body`` for
        implants, ``on_body`` for objects on or beside the body) and ``what`` was seen.
    """
    text = files("xray_anomalib.data").joinpath(METAL_REVIEW).read_text(encoding="utf-8")
    return pd.read_csv(io.StringIO(text))


def normalise_fracatlas_parts(body_parts: str | Iterable[str]) -> tuple[str, ...]:
    """FracAtlas body-part flags to keep, in their column order; ``all`` keeps every film.

    Raises:
        MuraLayoutError: For an unknown or empty list.
    """
    names = [body_parts] if isinstance(body_parts, str) else list(body_parts)
    lowered = {name.lower() for name in names}
    if "all" in lowered:
        return FRACATLAS_BODY_PARTS
    unknown = sorted(lowered - set(FRACATLAS_BODY_PARTS))
    if unknown or not lowered:
        expected = f"expected some of {list(FRACATLAS_BODY_PARTS)} or 'all'"
        msg = f"Unknown FracAtlas body part(s) {unknown or names}; {expected}."
        raise MuraLayoutError(msg)
    return tuple(part for part in FRACATLAS_BODY_PARTS if part in lowered)


def read_fracatlas_index(
    root: str | Path,
    body_parts: str | Iterable[str] = "all",
    implants: Implants | str = Implants.INCLUDE,
    reviewed_metal: ReviewedMetal | str = ReviewedMetal.INCLUDE,
) -> pd.DataFrame:
    """Index a FracAtlas root: one row per film with its label, body parts and implant flag.

    Args:
        root: The folder holding ``dataset.csv`` and ``images/``.
        body_parts: Flags to keep (a film is kept when any of them is set), or ``all``.
        implants: Keep films with implants (``include``), drop them (``exclude``) or keep only them (``only``).
        reviewed_metal: Keep the films the metal review lists (``include``), drop those with implants the flag
            misses (``exclude_in_body``) or those with any metal it found (``exclude``).

    Returns:
        The columns of :data:`~xray_anomalib.data.mura.INDEX_COLUMNS` plus ``hardware`` and ``patient_source``
        (``film``: each film is its own patient and study); ``mura_part`` is ``train`` (FracAtlas has one part).
        Films need not exist on disk.

    Raises:
        FileNotFoundError: When ``root`` does not exist.
        MuraLayoutError: When the layout or a row of ``dataset.csv`` is not FracAtlas', or nothing is left.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        msg = f"FracAtlas root {root} does not exist or is not a folder."
        raise FileNotFoundError(msg)
    table_path = root / FRACATLAS_CSV
    if not table_path.is_file() or not (root / "images").is_dir():
        msg = (
            f"{root} is not FracAtlas-shaped: expected {FRACATLAS_CSV} and "
            f"images/{{{','.join(LABEL_FOLDERS.values())}}}/ as FracAtlas is published."
        )
        raise MuraLayoutError(msg)
    table = _read_table(table_path)
    wanted = normalise_fracatlas_parts(body_parts)
    keep = table.loc[:, list(wanted)].eq(1).any(axis=1)
    implants = Implants(implants)
    if implants is Implants.EXCLUDE:
        keep &= table["hardware"] == 0
    elif implants is Implants.ONLY:
        keep &= table["hardware"] == 1
    metal = ReviewedMetal(reviewed_metal)
    review = read_metal_review()
    dropped = table["image_id"].isin(review.loc[review["metal"].isin(metal.dropped_kinds), "image_id"])
    if (keep & dropped).any():
        logger.info("Left out %d FracAtlas film(s) with metal the hardware flag misses.", int((keep & dropped).sum()))
    table = table[keep & ~dropped]
    if table.empty:
        settings = f"implants '{implants.value}', reviewed metal '{metal.value}'"
        msg = f"No FracAtlas film of {list(wanted)} with {settings} in {table_path}."
        raise MuraLayoutError(msg)
    stems = table["image_id"].map(lambda name: Path(name).stem)
    rel_paths = [
        f"images/{LABEL_FOLDERS[label]}/{name}"
        for name, label in zip(table["image_id"], table["fractured"], strict=True)
    ]
    index = pd.DataFrame(
        {
            "patient_id": stems.to_numpy(),
            "study_id": stems.to_numpy(),
            "study_label": table["fractured"].to_numpy(),
            "body_part": [
                "+".join(part for part in FRACATLAS_BODY_PARTS if row[part] == 1) or "none"
                for row in table.to_dict("records")
            ],
            "mura_part": "train",
            "rel_path": rel_paths,
            "image_path": [str(root / rel) for rel in rel_paths],
            "hardware": table["hardware"].to_numpy(),
            "patient_source": "film",
        }
    )
    logger.info("FracAtlas has no patient ids: each of its %d films is its own patient and study.", len(index))
    return index.sort_values("rel_path", ignore_index=True).loc[:, [*INDEX_COLUMNS, "hardware", "patient_source"]]


def _read_table(path: Path) -> pd.DataFrame:
    """Read ``dataset.csv``, refusing missing columns, repeated films and flags that are not 0/1."""
    try:
        table = pd.read_csv(io.StringIO(read_csv_text(path)), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        msg = f"{path} is not a readable CSV ({type(error).__name__}: {error})."
        raise MuraLayoutError(msg) from error
    missing = sorted({"image_id", *_FLAG_COLUMNS} - set(table.columns))
    if missing:
        msg = f"{path} lacks column(s) {missing}; FracAtlas' dataset.csv has image_id, {', '.join(_FLAG_COLUMNS)}, ..."
        raise MuraLayoutError(msg)
    for column in _FLAG_COLUMNS:
        bad = table.index[~table[column].str.strip().isin({"0", "1"})]
        if len(bad):
            row = bad[0]
            msg = (
                f"{path}, line {row + 2} ({table.at[row, 'image_id']}): column '{column}' is "
                f"{table.at[row, column]!r}, expected 0 or 1."
            )
            raise MuraLayoutError(msg)
        table[column] = table[column].astype(int)
    repeated = table["image_id"][table["image_id"].duplicated()]
    if len(repeated):
        msg = f"{path} lists {repeated.iloc[0]} more than once."
        raise MuraLayoutError(msg)
    return table

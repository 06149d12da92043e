"""Which dataset and which films: a cache key bound to a root's real path, and byte-identical films found.

Every MURA copy is called ``MURA-v1.1``: a cache keyed by the folder's name alone would hand one copy's crops to
another. :func:`dataset_key` adds a hash of the root's resolved path; the cache also checks each film's size and
modification time (:func:`xray_anomalib.io.films.file_signature`), so a changed film is preprocessed again.

Published collections hold byte-identical films under different names (FracAtlas does). Kept twice, one copy can
train while the other tests. :func:`drop_duplicate_films` keeps one of each group and lists the others.

Example:
    >>> dataset_key("MURA-v1.1", "/data/MURA-v1.1")  # doctest: +SKIP
    '3f1c9a0b2d/MURA-v1.1'
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

DUPLICATE_COLUMNS = ("image_path", "kept_path", "sha256")
_CHUNK = 1 << 20


def dataset_key(name: str, root: str | Path) -> str:
    """A short hash of the dataset's resolved path, then its folder name: two roots of one name never collide.

    The name stays the last part (``<hash>/<name>``), so that anomalib finds it in a cached film's path and names
    result images after the film's path below it.
    """
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:10]
    return f"{digest}/{name}"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def drop_duplicate_films(index: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one film of every group of byte-identical films.

    Only films that share their size with another are hashed, so a collection without duplicates costs one
    ``stat`` per film. Of a group, the film of a positive study is kept (it may carry the mask), then the first
    path in order.

    Args:
        index: Rows with ``image_path`` (files that exist) and ``study_label``.

    Returns:
        The index without the dropped copies, and one row per dropped copy with the path kept instead
        (columns of ``DUPLICATE_COLUMNS``).
    """
    sizes = pd.Series([Path(path).stat().st_size for path in index["image_path"]], index=index.index)
    candidates = index[sizes.duplicated(keep=False)]
    if candidates.empty:
        return index, pd.DataFrame(columns=list(DUPLICATE_COLUMNS))
    digests = pd.Series([file_digest(path) for path in candidates["image_path"]], index=candidates.index)
    ordered = candidates.assign(sha256=digests).sort_values(
        ["sha256", "study_label", "image_path"], ascending=[True, False, True]
    )
    kept = ordered.drop_duplicates("sha256")
    dropped = ordered[ordered.duplicated("sha256")]
    duplicates = dropped.assign(kept_path=dropped["sha256"].map(kept.set_index("sha256")["image_path"]))
    conflicting = dropped["sha256"].map(kept.set_index("sha256")["study_label"]) != dropped["study_label"]
    if len(duplicates):
        logger.warning(
            "%d film(s) are byte-identical copies of other films and are counted once (listed in %s)%s",
            len(duplicates),
            "duplicate_films.csv",
            f"; {int(conflicting.sum())} of them carry another label than the copy kept" if conflicting.any() else "",
        )
    remaining = index.drop(index=dropped.index)
    return remaining, duplicates.loc[:, list(DUPLICATE_COLUMNS)].reset_index(drop=True)

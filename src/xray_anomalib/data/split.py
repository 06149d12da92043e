"""Patient-wise splits of a MURA index, and the manifest that records them.

The ``paper`` mode follows Davletshina et al. (2020), Fig. 4: patients with any positive study are spread
evenly at random over validation and test, the same number of negative-only patients is drawn into each,
and every other negative-only patient goes to train. Train therefore holds only negative studies, and no
patient ever appears in two parts.

The ``mura`` mode keeps MURA's own parts: MURA ``valid`` becomes the test set; MURA ``train`` is split as in
``paper`` mode into train and validation (all its positive patients, and as many negative-only ones, to
validation).

Example:
    >>> index = read_mura_index(root)  # doctest: +SKIP
    >>> manifest = patient_wise_split(index, seed=0)  # doctest: +SKIP
    >>> print(format_split_summary(summarize_split(manifest)))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from xray_anomalib.utils.choices import Choice

SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ("split", "patient_id", "study_id", "study_label", "body_part", "mura_part", "rel_path")
OPTIONAL_MANIFEST_COLUMNS = ("patient_source", "hardware")  # written where the collection has them


class SplitMode(Choice):
    """How a MURA index is divided into train, validation and test."""

    PAPER = "paper"
    MURA = "mura"


class SplitError(ValueError):
    """Raised when a split cannot be drawn from the given data."""


def patient_wise_split(index: pd.DataFrame, seed: int = 0, mode: SplitMode | str = SplitMode.PAPER) -> pd.DataFrame:
    """Assign every image of ``index`` to train, val or test, never splitting a patient.

    Args:
        index: Output of :func:`xray_anomalib.data.mura.read_mura_index`.
        seed: Seed of the random draw; the same seed and index give the same split.
        mode: ``paper`` or ``mura`` (see the module docstring).

    Returns:
        ``index`` with a ``split`` column, sorted by split then path.

    Raises:
        SplitError: When there are no positive patients, or too few negative ones to match them.
    """
    mode = SplitMode(mode)
    rng = np.random.default_rng(seed)
    if mode is SplitMode.PAPER:
        assignment = _paper_assignment(index, rng)
    else:
        if not (index["mura_part"] == "valid").any():
            msg = (
                "Split mode 'mura' needs MURA's 'valid' part as test set; "
                "read the index with mura_parts=[train, valid]."
            )
            raise SplitError(msg)
        train_part = index[index["mura_part"] == "train"]
        valid_patients = set(index.loc[index["mura_part"] == "valid", "patient_id"])
        shared = valid_patients & set(train_part["patient_id"])
        if shared:
            msg = (
                f"Patients {sorted(shared)[:5]} appear in MURA's train and valid parts; "
                "a patient-wise split is impossible."
            )
            raise SplitError(msg)
        assignment = _paper_assignment(train_part, rng, test_share=0.0)
        assignment.update(dict.fromkeys(valid_patients, "test"))
    manifest = index.assign(split=index["patient_id"].map(assignment))
    order = {name: rank for rank, name in enumerate(SPLITS)}
    manifest = manifest.sort_values(
        ["split", "rel_path"], key=lambda column: column.map(order) if column.name == "split" else column
    )
    return manifest.reset_index(drop=True)


def _paper_assignment(index: pd.DataFrame, rng: np.random.Generator, test_share: float = 0.5) -> dict[str, str]:
    """Map patient id to split: positives shared between val and test, as many negatives matched into each."""
    positive_by_patient = index.groupby("patient_id")["study_label"].max()
    positives = np.array(sorted(positive_by_patient.index[positive_by_patient == 1]))
    negatives = np.array(sorted(positive_by_patient.index[positive_by_patient == 0]))
    if len(positives) == 0:
        msg = "No patient has a positive study: validation and test need positive patients (is this only normal data?)."
        raise SplitError(msg)
    positives = rng.permutation(positives)
    n_test = round(len(positives) * test_share)
    if test_share > 0 and (n_test == 0 or n_test == len(positives)):
        msg = f"Only {len(positives)} positive patient(s): at least 2 are needed to fill both validation and test."
        raise SplitError(msg)
    if len(negatives) < len(positives) + 1:
        msg = (
            f"{len(negatives)} negative-only patient(s) cannot match {len(positives)} positive ones in validation and "
            "test and still leave one for training."
        )
        raise SplitError(msg)
    negatives = rng.permutation(negatives)
    assignment = dict.fromkeys(positives[:n_test], "test") | dict.fromkeys(positives[n_test:], "val")
    assignment |= dict.fromkeys(negatives[:n_test], "test")
    assignment |= dict.fromkeys(negatives[n_test : len(positives)], "val")
    assignment |= dict.fromkeys(negatives[len(positives) :], "train")
    return assignment


def summarize_split(manifest: pd.DataFrame) -> pd.DataFrame:
    """Count images, studies and patients (positive/negative) of each part of a split.

    Args:
        manifest: A split as returned by :func:`patient_wise_split`.

    Returns:
        One row per split with image, study and patient counts.
    """
    rows = []
    for split in SPLITS:
        part = manifest[manifest["split"] == split]
        studies = part.drop_duplicates("study_id")
        patients = part.groupby("patient_id")["study_label"].max()
        rows.append(
            {
                "split": split,
                "images": len(part),
                "images_positive": int(part["study_label"].sum()),
                "studies": len(studies),
                "studies_positive": int(studies["study_label"].sum()),
                "patients": len(patients),
                "patients_positive": int(patients.sum()),
            },
        )
    return pd.DataFrame(rows).set_index("split")


def format_split_summary(summary: pd.DataFrame) -> str:
    """Render :func:`summarize_split` as an aligned text table."""
    lines = [f"{'part':<6}{'images (pos/neg)':>22}{'studies (pos/neg)':>22}{'patients (pos/neg)':>22}"]
    for split, row in summary.iterrows():
        cells = [
            f"{row[total]} ({row[positive]}/{row[total] - row[positive]})"
            for total, positive in (
                ("images", "images_positive"),
                ("studies", "studies_positive"),
                ("patients", "patients_positive"),
            )
        ]
        lines.append(f"{split:<6}" + "".join(f"{cell:>22}" for cell in cells))
    return "\n".join(lines)


def write_manifest(manifest: pd.DataFrame, path: str | Path) -> Path:
    """Write a split as a CSV that :func:`read_manifest` reads back.

    Args:
        manifest: A split as returned by :func:`patient_wise_split`.
        path: Destination CSV; parent folders are created.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest_csv(manifest))
    return path


def manifest_csv(manifest: pd.DataFrame) -> str:
    """The text of a split's manifest CSV, as :func:`write_manifest` writes it."""
    extra = [name for name in OPTIONAL_MANIFEST_COLUMNS if name in manifest.columns]
    return manifest.loc[:, [*MANIFEST_COLUMNS, *extra]].to_csv(index=False)


def manifest_digest(manifest: pd.DataFrame) -> str:
    """SHA-256 of the manifest CSV: equal digests mean the same films in the same parts."""
    return hashlib.sha256(manifest_csv(manifest).encode()).hexdigest()


def read_manifest(path: str | Path, root: str | Path) -> pd.DataFrame:
    """Read a manifest CSV written by :func:`write_manifest`, resolving image paths below ``root``.

    Args:
        path: The manifest CSV.
        root: The MURA root its relative paths refer to.

    Returns:
        The split with an absolute ``image_path`` column.

    Raises:
        SplitError: When columns are missing, a split name is unknown, or a patient is in two parts.
    """
    manifest = pd.read_csv(
        path, dtype={"patient_id": str, "study_id": str, "rel_path": str, "body_part": str}, keep_default_na=False
    )
    missing = set(MANIFEST_COLUMNS) - set(manifest.columns)
    if missing:
        msg = f"Manifest {path} lacks column(s) {sorted(missing)}; expected {list(MANIFEST_COLUMNS)}."
        raise SplitError(msg)
    unknown = set(manifest["split"]) - set(SPLITS)
    if unknown:
        msg = f"Manifest {path} has unknown split name(s) {sorted(unknown)}; expected {list(SPLITS)}."
        raise SplitError(msg)
    check_patient_wise(manifest)
    manifest["image_path"] = [str(Path(root) / rel) for rel in manifest["rel_path"]]
    return manifest


def check_patient_wise(manifest: pd.DataFrame) -> None:
    """Refuse a split that shares a patient between parts or trains on a positive study.

    Raises:
        SplitError: When the split leaks.
    """
    parts_per_patient = manifest.groupby("patient_id")["split"].nunique()
    leaking = parts_per_patient.index[parts_per_patient > 1]
    if len(leaking):
        msg = f"Patients {list(leaking[:5])} appear in more than one part: the split is not patient-wise."
        raise SplitError(msg)
    if (manifest.loc[manifest["split"] == "train", "study_label"] == 1).any():
        msg = "The training part holds positive studies; training must use negative studies only."
        raise SplitError(msg)

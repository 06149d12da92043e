"""Write a synthetic MURA-like dataset: the embedded default that needs no download.

The dataset has the real MURA-v1.1 layout (patients, studies, the four CSVs without header lines, as
Stanford ships them) so that every reader, split and datamodule path runs on it unchanged. It adds what
MURA lacks, the pixel truth::

    ROOT/
        train_image_paths.csv, train_labeled_studies.csv, valid_image_paths.csv, valid_labeled_studies.csv
        train/XR_HAND/patient00001/study1_negative/image1.png
        masks/train/XR_HAND/patient00002/study1_positive/image1.png     anomaly masks (positive films)
        hand_masks/train/XR_HAND/patient00001/study1_negative/image1.png  true hand masks
        synthetic_truth.csv                                                one row per film

Example:
    >>> write_synthetic_mura("datasets/synthetic", n_patients=60, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from xray_anomalib.data.synthetic_hand import ANOMALY_KINDS, draw_film
from xray_anomalib.utils.atomic import write_text_atomic

ANOMALY_MASK_DIR = "masks"
HAND_MASK_DIR = "hand_masks"
TRUTH_CSV = "synthetic_truth.csv"
_DONE_MARKER = ".synthetic_complete.json"


def write_synthetic_mura(
    root: str | Path,
    n_patients: int = 240,
    seed: int = 0,
    longest_side: int = 256,
    positive_patient_share: float = 0.3,
    valid_share: float = 0.15,
    two_hand_share: float = 0.1,
) -> Path:
    """Write a synthetic MURA-v1.1-shaped XR_HAND dataset with pixel truth.

    Args:
        root: Destination folder (created). An existing complete dataset with the same settings is kept.
        n_patients: Number of patients; each has one to three studies of one to three films.
        seed: Seed; the same settings give byte-identical files.
        longest_side: Pixels of each film's longer side (MURA's are 512).
        positive_patient_share: Share of patients with a positive (abnormal) study.
        valid_share: Share of patients placed in MURA's ``valid`` part.
        two_hand_share: Share of films that show both hands.

    Returns:
        The dataset root.
    """
    root = Path(root)
    settings = {
        "n_patients": n_patients,
        "seed": seed,
        "longest_side": longest_side,
        "positive_patient_share": positive_patient_share,
        "valid_share": valid_share,
        "two_hand_share": two_hand_share,
    }
    marker = root / _DONE_MARKER
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return root
    if n_patients < 8:
        msg = f"n_patients={n_patients} is too few: at least 8 are needed for train, validation and test."
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    images: dict[str, list[str]] = {"train": [], "valid": []}
    studies: dict[str, list[tuple[str, int]]] = {"train": [], "valid": []}
    truth_rows = []
    n_valid = max(2, round(n_patients * valid_share))
    for number in range(1, n_patients + 1):
        part = "valid" if number > n_patients - n_valid else "train"
        patient = f"patient{number:05d}"
        positive_patient = rng.random() < positive_patient_share
        n_studies = int(rng.choice([1, 1, 1, 2, 2, 3]))
        positive_study = int(rng.integers(n_studies)) if positive_patient else -1
        for study_number in range(1, n_studies + 1):
            label = int(study_number - 1 == positive_study)
            study_rel = f"{part}/XR_HAND/{patient}/study{study_number}_{'positive' if label else 'negative'}"
            studies[part].append((f"MURA-v1.1/{study_rel}/", label))
            for image_number in range(1, int(rng.choice([1, 2, 2, 3])) + 1):
                rel = f"{study_rel}/image{image_number}.png"
                kind = str(rng.choice(ANOMALY_KINDS)) if label else ""
                film = draw_film(rng, longest_side, anomaly=kind, two_hands=bool(rng.random() < two_hand_share))
                write_png(root / rel, film.film)
                write_png(root / HAND_MASK_DIR / rel, film.hand_mask)
                if label:
                    write_png(root / ANOMALY_MASK_DIR / rel, film.anomaly_mask)
                images[part].append(f"MURA-v1.1/{rel}")
                truth_rows.append(
                    {
                        "rel_path": rel,
                        "anomaly_kind": kind,
                        "n_hands": len(film.hand_boxes),
                        "hand_boxes": json.dumps(film.hand_boxes),
                        "inverted": film.inverted,
                        "has_border": film.has_border,
                    },
                )
    for part in ("train", "valid"):
        write_rows(root / f"{part}_image_paths.csv", [[path] for path in images[part]])
        write_rows(root / f"{part}_labeled_studies.csv", [[path, label] for path, label in studies[part]])
    with (root / TRUTH_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(truth_rows[0]))
        writer.writeheader()
        writer.writerows(truth_rows)
    write_text_atomic(marker, json.dumps(settings))
    return root


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write a float film in ``[0, 1]`` or a bool mask as an 8-bit PNG, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scaled = (
        pixels.astype(np.uint8) * 255
        if pixels.dtype == bool
        else np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    )
    if not cv2.imwrite(str(path), scaled):
        msg = f"Could not write {path}."
        raise OSError(msg)


def write_rows(path: Path, rows: list[list]) -> None:
    """Write CSV rows (no header unless given as the first row), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)

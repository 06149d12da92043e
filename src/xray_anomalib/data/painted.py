"""A realistic benchmark dataset: real normal films laid out as MURA, anomalies painted into positive studies.

MURA cannot be downloaded here, and the synthetic default's bones are flat bars. This builder takes any folder of
real hand films that are normal (e.g. ``../shared/data/rsna-hands/images``), groups them into patients and studies
in the MURA-v1.1 layout, and paints one anomaly into every film of a positive study, on bone found by the
toolkit's own hand segmentation (the brightest part of the hand): metal hardware (a plate with screws, or a
wire), a fracture line, a lytic (dark) or a sclerotic (bright) lesion. Each painted film gets its anomaly mask
under ``masks/``; ``painted_truth.csv`` lists source film, kind and position.

Limits (say them when quoting results): the anomalies are drawn, not real pathology: sharper and more uniform
than real lesions, and the rest of a positive film is an ordinary normal film, so a detector only has to find the
painted spot. The normals come from one source (RSNA bone age: children, open growth plates), not from MURA.

Example:
    >>> write_painted_mura("../shared/data/rsna-hands/images", "datasets/painted_rsna")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from xray_anomalib.data.synthetic import ANOMALY_MASK_DIR, write_png, write_rows
from xray_anomalib.data.synthetic_hand import ANOMALY_KINDS
from xray_anomalib.film_pipeline.steps import fix_inversion, segment_whole_film
from xray_anomalib.io.films import FILM_SUFFIXES, FilmReadError, read_film
from xray_anomalib.utils.atomic import write_text_atomic

logger = logging.getLogger(__name__)
TRUTH_CSV = "painted_truth.csv"
_DONE_MARKER = ".painted_complete.json"
PAINTER_VERSION = 2
"""Raised when the same films are painted differently (2: faint films segmented as the film pipeline does)."""


def bone_mask(film: np.ndarray, hand: np.ndarray, share: float = 0.35, margin: float = 0.08) -> np.ndarray:
    """Where to paint: the brightest ``share`` of the hand (bone is denser than soft tissue), inside the hand.

    Pixels near the hand's outline or within ``margin`` of the film's sides are left out, so that nothing is
    painted on collimator edges, frames or burned-in markers that the segmentation may have kept.
    """
    if hand.sum() < 50:
        return np.zeros_like(hand)
    level = np.quantile(film[hand], 1.0 - share)
    bone = (cv2.GaussianBlur(film, (0, 0), 1.5) >= level) & hand
    inside = cv2.distanceTransform(hand.astype(np.uint8), cv2.DIST_L2, 5) >= 0.02 * np.sqrt(hand.sum())
    height, width = film.shape
    rows, cols = int(height * margin), int(width * margin)
    central = np.zeros_like(hand)
    central[rows : height - rows, cols : width - cols] = True
    return cv2.erode(bone.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & inside & central


def _bone_axis(bone: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    """Unit vector along the bone around ``centre`` (main axis of the nearby bone pixels)."""
    x, y = centre
    window = bone[max(0, y - radius) : y + radius, max(0, x - radius) : x + radius]
    ys, xs = np.nonzero(window)
    if len(xs) < 3:
        return np.array([0.0, 1.0])
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    _, vectors = np.linalg.eigh(np.cov(points - points.mean(axis=0), rowvar=False))
    return vectors[:, -1]


def paint_anomaly(film: np.ndarray, hand: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Paint one anomaly of ``kind`` on the bone of ``film`` in place; return its mask and where it is.

    Args:
        film: ``H x W`` float32 film in ``[0, 1]``, dark background (inversion fixed).
        hand: ``H x W`` bool hand mask.
        kind: One of ``ANOMALY_KINDS``.
        rng: Random generator.

    Raises:
        ValueError: When the film shows no bone to paint on.
    """
    bone = bone_mask(film, hand)
    ys, xs = np.nonzero(bone)
    if len(xs) == 0:
        msg = "no bone found to paint on"
        raise ValueError(msg)
    pick = int(rng.integers(len(xs)))
    centre = (int(xs[pick]), int(ys[pick]))
    scale = float(np.sqrt(hand.sum()))  # side of a square as large as the hand
    axis = _bone_axis(bone, centre, max(4, int(scale * 0.06)))
    normal = np.array([-axis[1], axis[0]])
    layer = np.zeros_like(film)
    bone_level, tissue_level = float(np.median(film[bone])), float(np.median(film[hand & ~bone]))
    width = max(2, int(scale * rng.uniform(0.012, 0.02)))

    def point(offset: np.ndarray) -> tuple[int, int]:
        return round(centre[0] + offset[0]), round(centre[1] + offset[1])

    if kind == "metal":
        half = axis * scale * rng.uniform(0.06, 0.12)
        cv2.line(layer, point(-half), point(half), 1.0, width, cv2.LINE_AA)
        if rng.random() < 0.6:  # a plate held by screws across the bone
            for step in np.linspace(-0.8, 0.8, 3):
                across = normal * scale * 0.03
                cv2.line(layer, point(half * step - across), point(half * step + across), 1.0, max(2, width // 2))
        target = min(1.0, float(film.max()) * 1.02 + 0.05)
    elif kind == "fracture":
        across = normal * scale * rng.uniform(0.03, 0.05)
        jag = rng.normal(0, scale * 0.006, (5, 2))
        line = np.array([point(-across + 2 * across * i / 4 + jag[i]) for i in range(5)], np.int32)
        cv2.polylines(layer, [line], False, 1.0, max(1, width // 2), cv2.LINE_AA)
        layer *= bone
        target = tissue_level
    else:
        axes = (max(2, int(scale * rng.uniform(0.015, 0.03))), max(3, int(scale * rng.uniform(0.025, 0.045))))
        angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
        cv2.ellipse(layer, centre, axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
        layer = cv2.GaussianBlur(layer, (0, 0), max(0.6, axes[0] * 0.25))
        target = tissue_level if kind == "lytic_lesion" else min(1.0, bone_level + 0.6 * (1.0 - bone_level))
    film += layer * (target - film)
    mask = layer > 0.25
    return mask, {"x": centre[0], "y": centre[1], "pixels": int(mask.sum())}


def find_films(source: Path) -> list[Path]:
    """Film files under ``source`` (recursively), sorted.

    Raises:
        FileNotFoundError: When ``source`` is not a folder or holds no film.
    """
    if not source.is_dir():
        msg = f"Film folder not found: {source}."
        raise FileNotFoundError(msg)
    films = sorted(path for path in source.rglob("*") if path.suffix.lower() in FILM_SUFFIXES)
    if not films:
        msg = f"No films ({', '.join(FILM_SUFFIXES)}) under {source}."
        raise FileNotFoundError(msg)
    return films


def write_painted_mura(
    source: str | Path,
    root: str | Path,
    seed: int = 0,
    positive_patient_share: float = 0.3,
    valid_share: float = 0.15,
) -> Path:
    """Lay the films of ``source`` out as MURA-v1.1 XR_HAND under ``root`` and paint the positive studies.

    Films that cannot be read, or show no bone to paint on, are left out, logged and listed in
    ``rejected_films.csv`` under ``root``. A complete dataset with the same settings is kept as it is.

    Args:
        source: Folder of normal hand films (PNG, JPEG, 16-bit PNG, DICOM).
        root: Destination folder.
        seed: Seed of the grouping and the painting; the same inputs give the same dataset.
        positive_patient_share: Share of patients with one positive study.
        valid_share: Share of patients placed in MURA's ``valid`` part.

    Returns:
        The dataset root.
    """
    source, root = Path(source), Path(root)
    films = find_films(source)
    settings = {
        "source": str(source.resolve()),
        "films": len(films),
        "seed": seed,
        "positive_patient_share": positive_patient_share,
        "valid_share": valid_share,
        "painter_version": PAINTER_VERSION,
    }
    marker = root / _DONE_MARKER
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return root
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(films))
    images: dict[str, list[list[str]]] = {"train": [], "valid": []}
    studies: dict[str, list[list]] = {"train": [], "valid": []}
    truth, rejected = [], []
    cursor, groups = 0, []
    while cursor < len(order):
        size = int(rng.choice([1, 2, 2, 3, 4]))
        groups.append([films[i] for i in order[cursor : cursor + size]])
        cursor += size
    n_valid = max(2, round(len(groups) * valid_share))
    for number, group in enumerate(groups, start=1):
        part = "valid" if number > len(groups) - n_valid else "train"
        patient = f"patient{number:05d}"
        positive = rng.random() < positive_patient_share
        n_studies = 2 if len(group) >= 2 and rng.random() < 0.4 else 1
        cut = int(rng.integers(1, len(group))) if n_studies == 2 else len(group)
        positive_study = int(rng.integers(n_studies)) if positive else -1
        for study_number, members in enumerate((group[:cut], group[cut:])[:n_studies], start=1):
            label = int(study_number - 1 == positive_study)
            study_rel = f"{part}/XR_HAND/{patient}/study{study_number}_{'positive' if label else 'negative'}"
            written = 0
            for path in members:
                rel = f"{study_rel}/image{written + 1}.png"
                kind = str(rng.choice(ANOMALY_KINDS)) if label else ""
                try:
                    film, placed, mask = _prepare(path, kind, rng)
                except (FilmReadError, ValueError) as error:
                    rejected.append([str(path), str(error)])
                    continue
                write_png(root / rel, film)
                if mask is not None:  # painted: the study is positive
                    write_png(root / ANOMALY_MASK_DIR / rel, mask)
                images[part].append([f"MURA-v1.1/{rel}"])
                truth.append({"rel_path": rel, "source": str(path), "anomaly_kind": kind, **placed})
                written += 1
            if written:
                studies[part].append([f"MURA-v1.1/{study_rel}/", label])
    _finish(root, images, studies, truth, rejected)
    write_text_atomic(marker, json.dumps(settings))
    return root


def _prepare(path: Path, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, dict, np.ndarray | None]:
    """Read a film, fix its inversion and paint ``kind`` on it (nothing for a normal film)."""
    film, _ = fix_inversion(read_film(path).pixels.astype(np.float32))
    film = np.ascontiguousarray(film, dtype=np.float32)
    if not kind:
        return film, {"x": -1, "y": -1, "pixels": 0}, None
    hand, _ = segment_whole_film(film)
    mask, placed = paint_anomaly(film, hand, kind, rng)
    return film, placed, mask


def _finish(root: Path, images: dict, studies: dict, truth: list[dict], rejected: list[list[str]]) -> None:
    """Write MURA's four CSVs, the truth table and the list of rejected source films."""
    for part in ("train", "valid"):
        write_rows(root / f"{part}_image_paths.csv", images[part])
        write_rows(root / f"{part}_labeled_studies.csv", studies[part])
    with (root / TRUTH_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["rel_path", "source", "anomaly_kind", "x", "y", "pixels"])
        writer.writeheader()
        writer.writerows(truth)
    write_rows(root / "rejected_films.csv", [["film_path", "reason"], *rejected])
    if rejected:
        logger.warning(
            "%d source film(s) left out (listed in %s): %s", len(rejected), root / "rejected_films.csv", rejected[0]
        )

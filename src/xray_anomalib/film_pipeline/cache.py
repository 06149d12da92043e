"""Run the offline pipeline once over a dataset and keep the results on disk.

The cache lives in ``<cache_dir>/<settings key>/<dataset key>/``; the settings key hashes the pipeline's settings
and version, so a changed setting writes a new cache instead of reusing a stale one, and the dataset key names the
collection by its folder name and resolved path (:func:`xray_anomalib.data.identity.dataset_key`), so two copies of
``MURA-v1.1`` never share one. Per film it holds one 16-bit PNG per hand crop, the crop's hand mask, the film's
anomaly mask mapped into the crop (when the film has one), and a JSON record of what the pipeline did and of the
film's and mask's size and modification time. A film whose record exists and matches the files on disk is not
processed again, so an interrupted run resumes where it stopped and a changed film is processed anew. Films are
processed in parallel threads (OpenCV and numpy release the GIL, and threads avoid forking a process that holds
torch's thread pools), with a progress bar.

Example:
    >>> settings = PreprocessingSettings("full")
    >>> crops = build_cache(manifest, settings, "datasets/preprocessed", "MURA-v1.1")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from rich.progress import Progress

from xray_anomalib.film_pipeline.pipeline import OfflinePipeline, PreprocessingSettings, Variant, warp_to_crop
from xray_anomalib.io.films import FilmReadError, file_signature, read_film
from xray_anomalib.utils.atomic import write_text_atomic

RECORD_SUFFIX = ".json"
CACHE_LEVELS = 65535
"""Grey levels of the cached crops (16-bit PNG)."""


def to_cache_pixels(image: np.ndarray) -> np.ndarray:
    """A crop's ``[0, 1]`` pixels as the cache stores them: 16-bit."""
    return np.round(np.clip(image, 0.0, 1.0) * CACHE_LEVELS).astype(np.uint16)


def as_read_from_cache(image: np.ndarray) -> np.ndarray:
    """A crop's pixels as a dataset reads them back from the cache (16-bit levels, ``float32`` in ``[0, 1]``).

    The predictor passes new films' crops through this, so they meet the model as the cached training crops did.
    """
    return to_cache_pixels(image).astype(np.float32) / CACHE_LEVELS


def cache_folder(cache_dir: str | Path, settings: PreprocessingSettings, dataset_key: str) -> Path:
    """The folder of one dataset's cache under one set of settings."""
    return Path(cache_dir) / settings.key() / dataset_key


def build_cache(
    films: pd.DataFrame,
    settings: PreprocessingSettings,
    cache_dir: str | Path,
    dataset_key: str,
    workers: int | None = None,
) -> pd.DataFrame:
    """Preprocess every film of ``films`` (cached films are skipped) and return one row per hand crop.

    Args:
        films: Rows with ``rel_path``, ``image_path`` and ``mask_path`` ("" when the film has no anomaly mask),
            and optionally ``body_part``.
        settings: The pipeline's settings.
        cache_dir: Root of all caches.
        dataset_key: The dataset's cache name (:func:`~xray_anomalib.data.identity.dataset_key`), kept in the
            crops' paths so result files never collide.
        workers: Threads; all cores by default.

    Returns:
        The rows of ``films`` repeated per crop, with ``film_path`` (the original), ``image_path``,
        ``hand_mask_path``, ``body_mask_path`` and ``mask_path`` pointing at the crop's files, ``crop_index``,
        ``status`` and ``reason``. Unreadable films appear once with status ``unreadable`` and no crop files.
    """
    folder = cache_folder(cache_dir, settings, dataset_key)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder.parent / "settings.json", json.dumps(settings.to_dict()))
    current = {
        row.rel_path: _current_record(folder, row.image_path, row.mask_path, row.rel_path)
        for row in films.itertuples(index=False)
    }
    records = {rel_path: record for rel_path, record in current.items() if record}
    jobs = [
        (row.image_path, row.mask_path, row.rel_path, str(getattr(row, "body_part", "")))
        for row in films.itertuples(index=False)
        if row.rel_path not in records
    ]
    if jobs:
        pipeline = OfflinePipeline(settings)
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool, Progress() as progress:
            task = progress.add_task(
                f"Preprocessing {len(jobs)} films ({Variant(settings.variant).value})", total=len(jobs)
            )
            for job, record in zip(jobs, pool.map(lambda job: process_film(pipeline, folder, *job), jobs), strict=True):
                records[job[2]] = record
                progress.advance(task)
    return _crop_rows(films, folder, records)


def process_film(
    pipeline: OfflinePipeline, folder: Path, image_path: str, mask_path: str, rel_path: str, body_part: str = ""
) -> dict:
    """Preprocess one film into ``folder`` and write its record last (the record marks the film as done).

    ``body_part`` is the film's, as its dataset names it (see :class:`PreprocessingSettings`' ``fills_film``).
    """
    source = _source_signature(image_path, mask_path)
    try:
        film = read_film(image_path).pixels
    except FilmReadError as error:
        record = {"status": "unreadable", "reasons": [str(error)], "crops": []}
    else:
        crops, film_record = pipeline(film, body_part)
        anomaly = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE) if mask_path else None
        names = []
        for index, crop in enumerate(crops):
            name = _crop_name(rel_path, index)
            _write(folder / "images" / name, to_cache_pixels(crop.image))
            _write(folder / "hand_masks" / name, crop.hand_mask.astype(np.uint8) * 255)
            _write(folder / "body_masks" / name, crop.body_mask.astype(np.uint8) * 255)
            if anomaly is not None:
                _write(folder / "masks" / name, (warp_to_crop(anomaly, crop) > 0).astype(np.uint8) * 255)
            names.append({"name": name, "matrix": crop.matrix.tolist()})
        record = asdict(film_record) | {"crops": names}
    record["source"] = source
    path = _record_path(folder, rel_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record))
    return record


def _crop_rows(films: pd.DataFrame, folder: Path, records: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for film in films.to_dict("records"):
        record = records[film["rel_path"]]
        base = film | {
            "film_path": film["image_path"],
            "status": record["status"],
            "reason": "; ".join(record["reasons"]),
        }
        if not record["crops"]:
            rows.append(
                base | {"crop_index": -1, "image_path": "", "hand_mask_path": "", "body_mask_path": "", "mask_path": ""}
            )
        for index, crop in enumerate(record["crops"]):
            mask = folder / "masks" / crop["name"]
            rows.append(
                base
                | {
                    "crop_index": index,
                    "image_path": str(folder / "images" / crop["name"]),
                    "hand_mask_path": str(folder / "hand_masks" / crop["name"]),
                    "body_mask_path": str(folder / "body_masks" / crop["name"]),
                    "mask_path": str(mask) if film["mask_path"] else "",
                },
            )
    return pd.DataFrame(rows)


def _source_signature(image_path: str, mask_path: str) -> list:
    """Size and modification time of the film and of its mask (``None`` for a film that is not on disk)."""
    return [_signature_or_none(image_path), _signature_or_none(mask_path) if mask_path else None]


def _signature_or_none(path: str) -> list[int] | None:
    try:
        return file_signature(path)
    except OSError:
        return None


def _current_record(folder: Path, image_path: str, mask_path: str, rel_path: str) -> dict | None:
    """The film's record if it exists and was made from the film and mask as they are on disk now, else ``None``."""
    path = _record_path(folder, rel_path)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record if record.get("source") == _source_signature(image_path, mask_path) else None


def _crop_name(rel_path: str, index: int) -> str:
    path = Path(rel_path)
    return str(path.with_name(f"{path.stem}_hand{index}.png"))


def _record_path(folder: Path, rel_path: str) -> Path:
    return folder / "records" / (rel_path + RECORD_SUFFIX)


def _write(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), pixels):
        msg = f"Could not write {path}."
        raise OSError(msg)

"""Score every film under a path and write overlays, CSVs and the HTML report, streaming.

Films are read and preprocessed ahead in threads, scored one by one by the model compiled once, and their
overlays are written by another thread; only one row of numbers per film stays in memory.

Example:
    >>> summary = predict_folder(Predictor("results/Cae/synthetic_mura/xr_hand/latest"), "films/", "predictions/")
    ... # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from rich.progress import Progress

from xray_anomalib.deploy.identity import identify
from xray_anomalib.deploy.inputs import FilmInput, find_inputs
from xray_anomalib.deploy.overlay import draw_overlay, film_to_bgr, thumbnail_jpeg
from xray_anomalib.deploy.predictor import FilmPrediction, Predictor
from xray_anomalib.deploy.report import SKIPPED, FilmRow, aggregate_studies, printable, write_csv, write_html
from xray_anomalib.deploy.streaming import ordered_map
from xray_anomalib.deploy.truth import Agreement, Truth, agreement, label_studies, roc_png, truth_of
from xray_anomalib.film_pipeline.pipeline import Variant

IDENTITIES = "identities.csv"
"""Pseudonym -> file of each de-identified film: for the user, not for the report's readers."""
OVERLAY_DIR = "overlays"
THUMBNAIL_DIR = "thumbnails"
NAME_CHARACTERS = 80
"""Characters of a film's relative path kept in its output files' names (the end: the file name)."""


@dataclass
class PredictionSummary:
    """What a prediction run did.

    Attributes:
        films: Films found (skipped files not counted).
        scored: Films scored.
        failed: Films not scored (unreadable, no hand, error), each listed with its reason.
        skipped: Files that are not films.
        seconds: Wall time of the run.
        stage_seconds: Time per stage summed over films (read, preprocess, infer, map_back, overlay).
        report: The HTML report.
        agreements: How the film and study scores meet the input's truth (empty when nothing labels the input).
    """

    films: int
    scored: int
    failed: int
    skipped: int
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report: Path | None = None
    agreements: tuple[Agreement, ...] = ()


def predict_folder(
    predictor: Predictor,
    source: str | Path,
    output: str | Path,
    aggregation: str = "max",
    workers: int = 2,
    progress: bool = True,
    labels: str | Path | None = None,
    deidentify: bool = True,
) -> PredictionSummary:
    """Score the films under ``source`` into ``output``.

    Args:
        predictor: The model and its preprocessing.
        source: A film, a folder of films, or a MURA study or patient folder.
        output: Folder for ``films.csv``, ``studies.csv``, ``report.html``, ``overlays/`` and ``thumbnails/``.
        aggregation: How film scores make a study score: ``max`` or ``mean``.
        workers: Threads reading and preprocessing films ahead of the model.
        progress: Show a progress bar.
        labels: A labels CSV (``path,label``, paths relative to ``source``) giving the films' truth; without it
            MURA study folder names give it where they can (:mod:`~xray_anomalib.deploy.truth`).
        deidentify: Show DICOM films under pseudonyms of their patient and study ids, and write the map back to
            their files into ``identities.csv`` (:mod:`~xray_anomalib.deploy.identity`).
    """
    start = time.perf_counter()
    output = Path(output)
    if output.exists() and not output.is_dir():
        msg = f"Output {output} is a file; expected a folder for the report (it is made when missing)."
        raise NotADirectoryError(msg)
    films, skipped = find_inputs(source, exclude=output)
    truth = truth_of(films, source, labels)  # a bad labels CSV stops the run before any film is scored
    films, identities = identify(films, deidentify)
    output.mkdir(parents=True, exist_ok=True)
    stage_seconds: dict[str, float] = defaultdict(float)
    rows = [_row(item, SKIPPED, item.skip_reason, truth) for item in skipped]
    predictions = predictor.predict_many((item.path for item in films), workers=workers)
    threshold = predictor.settings.pixel_threshold
    with ThreadPoolExecutor(max_workers=1) as writer, Progress(disable=not progress) as bar:
        task = bar.add_task(f"Scoring {len(films)} films", total=len(films))
        written = ordered_map(
            writer,
            lambda pair: _write_film(*pair, output, threshold, truth),
            zip(films, predictions, strict=True),
            window=workers + 1,
        )
        for row, timings in written:
            rows.append(row)
            for stage, seconds in timings.items():
                stage_seconds[stage] += seconds
            bar.advance(task)
    rows.sort(key=lambda row: (row.study, row.film))
    studies = aggregate_studies(rows, aggregation, predictor.settings.image_threshold)
    agreements: tuple[Agreement, ...] = ()
    if truth is not None:
        label_studies(rows, studies)
        agreements = (agreement("films", rows), agreement("studies", studies))
    write_csv(rows, output / "films.csv")
    write_csv(studies, output / "studies.csv")
    if identities:
        write_csv(identities, output / IDENTITIES)
    scored = sum(row.status == "ok" for row in rows)
    summary = PredictionSummary(
        films=len(films),
        scored=scored,
        failed=len(films) - scored,
        skipped=len(skipped),
        seconds=time.perf_counter() - start,
        stage_seconds=dict(stage_seconds),
        agreements=agreements,
    )
    settings = predictor.settings
    preprocessing = (
        Variant(settings.preprocessing.variant).value if settings.preprocessing else "none (films as they are)"
    )
    summary.report = write_html(
        output / "report.html",
        studies,
        rows,
        title=f"Anomaly report: {source}",
        summary={
            "model": settings.model_class,
            "preprocessing": preprocessing,
            "film transform": (settings.film_transform or {}).get("class_path", "none"),
            "input size": f"{settings.image_size} px",
            "threshold": (
                f"{settings.image_threshold:.3f} (normalised score; above it a film is anomalous), chosen by "
                f"{settings.threshold_policy}"
            ),
            "study score": aggregation,
            "films": f"{summary.films} ({summary.scored} scored, {summary.failed} failed, {summary.skipped} skipped)",
        },
        card=None if predictor.card is None else predictor.card.headline(),
        truth=None if truth is None else _truth_lines(truth, agreements),
        roc=None if truth is None else roc_png(rows, studies),
    )
    return summary


def _truth_lines(truth: Truth, agreements: tuple[Agreement, ...]) -> dict[str, str]:
    """The report's opening lines: where the truth comes from, how each level's scores meet it, unmatched labels."""
    lines = {"source": truth.source}
    for level in agreements:
        lines |= level.lines()
    if truth.unmatched:
        shown = ", ".join(truth.unmatched[:5]) + (", ..." if len(truth.unmatched) > 5 else "")
        lines["labels without a film"] = f"{len(truth.unmatched)} labelled paths name no film of the input: {shown}"
    return lines


def _row(item: FilmInput, status: str, message: str, truth: Truth | None) -> FilmRow:
    """A film's CSV row with its truth, names as UTF-8 can write them (:func:`~xray_anomalib.deploy.report.printable`).

    A de-identified film shows its pseudonym, and no path (``identities.csv`` has it).
    """
    path = "" if item.alias else printable(str(item.path))
    row = FilmRow(printable(item.study), printable(item.shown), path, status, message)
    row.truth = None if truth is None else truth.films.get(printable(item.name))
    return row


def output_stem(name: str) -> str:
    """The stem of a film's output files: the end of its relative path in safe characters, and a hash of the path.

    Any input name gives a short, portable file name (no ``/``, no bytes that are not UTF-8, no name too long for
    the filesystem), and two films never share one.
    """
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", printable(name))[-NAME_CHARACTERS:].lstrip("._")
    return f"{readable}-{digest}"


def _write_film(
    item: FilmInput, prediction: FilmPrediction, output: Path, threshold: float, truth: Truth | None
) -> tuple[FilmRow, dict[str, float]]:
    """Write one film's overlay and thumbnails; return its CSV row and its seconds per stage, this one included.

    A film whose outputs cannot be written keeps its score and gets the status ``error`` with the reason.
    """
    start = time.perf_counter()
    row = _row(item, prediction.status, prediction.message, truth)
    if prediction.ok:
        row.score, row.label, row.n_hands = prediction.score, prediction.label, prediction.n_hands
        if prediction.stored_peak is not None:  # a flat heatmap has no peak to point at
            row.peak_x, row.peak_y = prediction.stored_peak
    try:
        _write_outputs(row, prediction, output, output_stem(item.shown), threshold)
    except (OSError, RuntimeError, cv2.error) as error:
        row.status, row.message = "error", f"its outputs could not be written ({error})"
    return row, prediction.timings | {"overlay": time.perf_counter() - start}


def _write_outputs(row: FilmRow, prediction: FilmPrediction, output: Path, stem: str, threshold: float) -> None:
    """Write the prediction's thumbnails and overlay, and link them from ``row``."""
    if prediction.film is not None:
        original = film_to_bgr(prediction.film)
        row.original_thumbnail = _save(output, f"{THUMBNAIL_DIR}/{stem}.original.jpg", thumbnail_jpeg(original))
    film, anomaly_map, peak = prediction.film, prediction.anomaly_map, prediction.peak
    if prediction.ok and film is not None and anomaly_map is not None:
        overlay = draw_overlay(film, anomaly_map, threshold, peak)
        ok, encoded = cv2.imencode(".png", overlay)
        if not ok:
            msg = "OpenCV could not encode the overlay"
            raise RuntimeError(msg)
        row.overlay = _save(output, f"{OVERLAY_DIR}/{stem}.overlay.png", encoded.tobytes())
        row.overlay_thumbnail = _save(output, f"{THUMBNAIL_DIR}/{stem}.overlay.jpg", thumbnail_jpeg(overlay))


def _save(output: Path, relative: str, data: bytes) -> str:
    """Write ``data`` to ``output / relative`` and return ``relative``."""
    path = output / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative

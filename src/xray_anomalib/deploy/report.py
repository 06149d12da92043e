"""The prediction report: ``films.csv``, ``studies.csv`` and a self-contained ``report.html``.

Studies are scored as MURA labels them: from their films, by the highest film score (``max``) or the mean
(``mean``). The HTML page lists studies from the most to the least anomalous, each film with its original,
its overlay and its score, thumbnails embedded so the page reads offline; it is written study by study so that
memory does not grow with the number of films.
"""

from __future__ import annotations

import base64
import csv
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from jinja2 import Environment, PackageLoader

AGGREGATIONS = ("max", "mean")
SKIPPED = "skipped"


def printable(text: str) -> str:
    r"""``text`` as UTF-8 can write it: bytes of a file name that are not UTF-8 become ``\xNN``, the rest is kept.

    Python gives such bytes as lone surrogates (``\udcff``), which no UTF-8 file can hold.
    """
    return os.fsencode(text).decode("utf-8", "backslashreplace")


@dataclass
class FilmRow:
    """One line of ``films.csv``.

    ``peak_x`` and ``peak_y`` are in the film file's own pixels (empty when the heatmap is flat); the overlay of a
    film larger than the predictor's ``max_film_side`` shows it reduced to that side. ``truth`` is 1 (anomalous) or
    0 (normal) where the input labels the film (:mod:`~xray_anomalib.deploy.truth`), else empty.
    """

    study: str
    film: str
    path: str
    status: str
    message: str = ""
    score: float | None = None
    label: bool | None = None
    truth: int | None = None
    n_hands: int = 0
    peak_x: int | None = None
    peak_y: int | None = None
    overlay: str = ""
    original_thumbnail: str = ""
    overlay_thumbnail: str = ""


@dataclass
class StudyRow:
    """One line of ``studies.csv`` (``truth``: 1 when one of its labelled films is anomalous, empty unlabelled)."""

    study: str
    films: int
    scored: int
    failed: int
    skipped: int
    score: float | None
    label: bool | None
    aggregation: str
    truth: int | None = None


def aggregate_studies(films: list[FilmRow], aggregation: str, threshold: float) -> list[StudyRow]:
    """One row per study, sorted from the highest score to the lowest (unscored studies last).

    Args:
        films: Every film row (skipped files are not films: they count in ``skipped`` only).
        aggregation: ``max`` or ``mean`` of the scored films' scores.
        threshold: The model's normalised image threshold; a study is anomalous when its score is above it.
    """
    if aggregation not in AGGREGATIONS:
        msg = f"Unknown aggregation {aggregation!r}; expected one of {AGGREGATIONS}."
        raise ValueError(msg)
    by_study: dict[str, list[FilmRow]] = {}
    for row in films:
        by_study.setdefault(row.study, []).append(row)
    studies = []
    for study, rows in by_study.items():
        scores = [row.score for row in rows if row.status == "ok" and row.score is not None]
        score = None
        if scores:
            score = max(scores) if aggregation == "max" else sum(scores) / len(scores)
        skipped = sum(row.status == SKIPPED for row in rows)
        failed = sum(row.status not in {"ok", SKIPPED} for row in rows)
        label = None if score is None else score > threshold
        studies.append(StudyRow(study, len(rows) - skipped, len(scores), failed, skipped, score, label, aggregation))
    return sorted(studies, key=lambda row: (row.score is None, -(row.score or 0.0), row.study))


def write_csv(rows: list, path: Path) -> Path:
    """Write dataclass rows to a UTF-8 CSV file."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=[item.name for item in fields(rows[0])] if rows else [])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    return path


def write_html(
    path: Path,
    studies: list[StudyRow],
    films: list[FilmRow],
    title: str,
    summary: dict[str, str],
    card: dict[str, str] | None = None,
    truth: dict[str, str] | None = None,
    roc: str | None = None,
) -> Path:
    """Write the report page, thumbnails (paths relative to ``path``'s folder) embedded as data URIs.

    ``card`` is the model card's headline (:meth:`~xray_anomalib.models.components.model_card.ModelCard.headline`),
    shown under the summary. ``truth`` (lines of how the scores meet the input's labels) and ``roc`` (the ROC
    curves as a data URI) open the page when the input is labelled.

    The page is rendered from ``templates/report.html`` with autoescaping and streamed to disk study by study, so
    a thumbnail is read only when its row is written.
    """
    folder = path.parent
    by_study: dict[str, list[FilmRow]] = {}
    for row in films:
        by_study.setdefault(row.study, []).append(row)

    def data_uri(relative: str) -> str:
        return "data:image/jpeg;base64," + base64.b64encode((folder / relative).read_bytes()).decode("ascii")

    page = _TEMPLATES.get_template("report.html").generate(
        title=title,
        summary=summary,
        card=card,
        truth=truth,
        roc=roc,
        sections=((study, by_study[study.study]) for study in studies),
        data_uri=data_uri,
    )
    with path.open("w", encoding="utf-8") as file:
        file.writelines(page)
    return path


def _score(score: float | None) -> str:
    return "-" if score is None else f"{score:.3f}"


def _truth(truth: int | None) -> str:
    return "-" if truth is None else ("anomalous" if truth else "normal")


_TEMPLATES = Environment(loader=PackageLoader("xray_anomalib.deploy"), autoescape=True, keep_trailing_newline=True)
_TEMPLATES.filters["score"] = _score
_TEMPLATES.filters["truth"] = _truth

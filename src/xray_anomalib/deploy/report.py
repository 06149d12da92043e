"""The prediction report: ``films.csv``, ``studies.csv`` and a self-contained ``report.html``.

Studies are scored as MURA labels them: from their films, by the highest film score (``max``) or the mean
(``mean``). The HTML page lists studies from the most to the least anomalous, each film with its original,
its overlay and its score, thumbnails embedded so the page reads offline; it is written study by study so that
memory does not grow with the number of films.
"""

from __future__ import annotations

import base64
import csv
import html
from dataclasses import asdict, dataclass, fields
from pathlib import Path

AGGREGATIONS = ("max", "mean")


@dataclass
class FilmRow:
    """One line of ``films.csv``."""

    study: str
    film: str
    path: str
    status: str
    message: str = ""
    score: float | None = None
    label: bool | None = None
    n_hands: int = 0
    peak_x: int | None = None
    peak_y: int | None = None
    overlay: str = ""
    original_thumbnail: str = ""
    overlay_thumbnail: str = ""


@dataclass
class StudyRow:
    """One line of ``studies.csv``."""

    study: str
    films: int
    scored: int
    failed: int
    score: float | None
    label: bool | None
    aggregation: str


def aggregate_studies(films: list[FilmRow], aggregation: str, threshold: float) -> list[StudyRow]:
    """One row per study, sorted from the highest score to the lowest (unscored studies last).

    Args:
        films: Every film row (skipped files are not films and count in neither ``scored`` nor ``failed``).
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
        scores = [row.score for row in rows if row.status == "ok"]
        score = None
        if scores:
            score = max(scores) if aggregation == "max" else sum(scores) / len(scores)
        failed = sum(row.status not in {"ok", "skipped"} for row in rows)
        label = None if score is None else score > threshold
        studies.append(StudyRow(study, len(rows), len(scores), failed, score, label, aggregation))
    return sorted(studies, key=lambda row: (row.score is None, -(row.score or 0.0), row.study))


def write_csv(rows: list, path: Path) -> Path:
    """Write dataclass rows to a CSV file."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[item.name for item in fields(rows[0])] if rows else [])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    return path


def write_html(path: Path, studies: list[StudyRow], films: list[FilmRow], title: str, summary: dict[str, str]) -> Path:
    """Write the report page, thumbnails (paths relative to ``path``'s folder) embedded as data URIs."""
    folder = path.parent
    by_study: dict[str, list[FilmRow]] = {}
    for row in films:
        by_study.setdefault(row.study, []).append(row)
    with path.open("w", encoding="utf-8") as page:
        page.write(_HEAD.format(title=html.escape(title)))
        page.write("<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in summary.items()) + "</dl>\n")
        for study in studies:
            verdict = "unscored" if study.label is None else ("anomalous" if study.label else "normal")
            page.write(
                f'<section class="{verdict}"><h2>{_e(study.study)} <span>{verdict}, {study.aggregation} score '
                f"{_score(study.score)}; {study.scored} of {study.films} films scored</span></h2>\n<table>\n"
                "<tr><th>film</th><th>status</th><th>score</th><th>original</th><th>overlay</th></tr>\n"
            )
            for row in by_study[study.study]:
                page.write(_film_row(row, folder))
            page.write("</table></section>\n")
        page.write("</body></html>\n")
    return path


def _film_row(row: FilmRow, folder: Path) -> str:
    status = _e(row.status) + (f"<br><small>{_e(row.message)}</small>" if row.message else "")
    original = _embedded(folder, row.original_thumbnail, f"{row.film} original")
    overlay = _embedded(folder, row.overlay_thumbnail, f"{row.film} overlay")
    if row.overlay:
        overlay = f'<a href="{_e(row.overlay)}">{overlay}</a>'
    return (
        f'<tr class="{_e(row.status)}"><td>{_e(row.film)}</td><td>{status}</td><td>{_score(row.score)}</td>'
        f"<td>{original}</td><td>{overlay}</td></tr>\n"
    )


def _embedded(folder: Path, relative: str, alt: str) -> str:
    if not relative:
        return ""
    data = base64.b64encode((folder / relative).read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/jpeg;base64,{data}">'


def _score(score: float | None) -> str:
    return "-" if score is None else f"{score:.3f}"


def _e(text: object) -> str:
    return html.escape(str(text))


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; background: #fafafa; color: #222; }}
dl {{ display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }}
dt {{ font-weight: bold; }}
section {{ border-left: 6px solid #999; padding-left: 0.8em; margin: 1.2em 0; }}
section.anomalous {{ border-color: #c0392b; }}
section.normal {{ border-color: #27ae60; }}
h2 {{ font-size: 1.1em; }} h2 span {{ font-weight: normal; color: #555; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ddd; padding: 4px; vertical-align: top; text-align: left; }}
tr.unreadable, tr.no_hand, tr.error {{ background: #fdecea; }}
img {{ max-width: 320px; max-height: 320px; display: block; }}
</style></head><body>
<h1>{title}</h1>
"""

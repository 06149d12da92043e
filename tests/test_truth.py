"""The truth of a prediction run: from MURA study names or a labels CSV, and how the scores meet it."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from xray_anomalib.data import MuraLayoutError
from xray_anomalib.deploy.inputs import find_inputs
from xray_anomalib.deploy.report import FilmRow, aggregate_studies, write_html
from xray_anomalib.deploy.truth import agreement, label_studies, roc_png, truth_of

THRESHOLD = 0.5


def _folder(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def _rows(scores: dict[str, float | None]) -> list[FilmRow]:
    """Film rows with these scores (``None``: not scored), labelled by the threshold; studies are the folders."""
    rows = []
    for name, score in scores.items():
        status = "ok" if score is not None else "unreadable"
        row = FilmRow(name.rsplit("/", 1)[0], name, name, status, score=score)
        row.label = None if score is None else score > THRESHOLD
        rows.append(row)
    return rows


def test_mura_study_names_label_the_films(tmp_path: Path) -> None:
    source = _folder(
        tmp_path,
        ["p1/study1_positive/image1.png", "p1/study2_negative/image1.png", "other/image1.png"],
    )
    films, _ = find_inputs(source)
    truth = truth_of(films, source)
    assert truth is not None
    assert truth.films == {"p1/study1_positive/image1.png": 1, "p1/study2_negative/image1.png": 0}
    assert "MURA study folder names" in truth.source
    assert truth_of(find_inputs(source / "other")[0], source / "other") is None  # nothing labels these


def test_a_labels_csv_gives_the_truth_and_lists_what_it_does_not_find(tmp_path: Path) -> None:
    source = _folder(tmp_path / "films", ["a/1.png", "a/2.png", "b/1.png"])
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\na/1.png,1\na/2.png,0\ngone/3.png,1\n")
    truth = truth_of(find_inputs(source)[0], source, labels)
    assert truth is not None
    assert truth.films == {"a/1.png": 1, "a/2.png": 0}  # b/1.png has no label: no truth, not a guess
    assert truth.unmatched == ("gone/3.png",)
    labels.write_text("path,label\na/1.png,1\na/2.png,yes\n")
    with pytest.raises(MuraLayoutError, match=r"labels.csv, line 3 .*label 'yes'"):
        truth_of(find_inputs(source)[0], source, labels)
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        truth_of(find_inputs(source)[0], source, tmp_path / "missing.csv")


def test_agreement_is_the_auroc_and_the_rates_at_the_threshold() -> None:
    generator = np.random.default_rng(0)
    names = [f"s{index // 2}/film{index}.png" for index in range(60)]
    truth = {name: int(index % 3 == 0) for index, name in enumerate(names)}
    scores: dict[str, float | None] = {
        name: float(np.clip(generator.normal(0.4 + 0.25 * truth[name], 0.15), 0, 1)) for name in names
    }
    scores[names[0]] = None  # a labelled film that could not be scored
    rows = _rows(scores)
    studies = aggregate_studies(rows, "max", THRESHOLD)
    for row in rows:
        row.truth = truth[row.film]
    label_studies(rows, studies)
    films = agreement("films", rows)
    scored = [row for row in rows if row.score is not None]
    expected = roc_auc_score([row.truth for row in scored], [row.score for row in scored])
    assert films.auroc is not None and films.auroc.value == pytest.approx(expected)
    assert films.auroc.low < films.auroc.value < films.auroc.high
    assert (films.items, films.unscored) == (59, 1)
    positives = [row for row in scored if row.truth == 1]
    negatives = [row for row in scored if row.truth == 0]
    assert films.sensitivity == pytest.approx(np.mean([row.score > THRESHOLD for row in positives]))
    assert films.specificity == pytest.approx(np.mean([row.score <= THRESHOLD for row in negatives]))
    for study in studies:  # a study is anomalous when one of its films is
        assert study.truth == max(truth[row.film] for row in rows if row.study == study.study)
    lines = films.lines()
    assert lines["films AUROC"].startswith(f"{expected:.3f} [")
    assert "1 with truth not scored" in lines["films"]
    assert roc_png(rows, studies).startswith("data:image/png;base64,")  # type: ignore[union-attr]


def test_one_class_gives_no_auroc_and_says_why() -> None:
    rows = _rows({"s/1.png": 0.2, "s/2.png": 0.7})
    for row in rows:
        row.truth = 0
    level = agreement("films", rows)
    assert level.auroc is None and np.isnan(level.sensitivity) and level.specificity == 0.5
    assert "AUROC needs normal and anomalous films" in level.lines()["films"]
    assert roc_png(rows, []) is None


def test_the_report_opens_with_the_truth_and_shows_it_per_film(tmp_path: Path) -> None:
    rows = _rows({"a/1.png": 0.9, "a/2.png": 0.1, "b/1.png": 0.3})
    for row, label in zip(rows, (1, 0, 0), strict=True):
        row.truth = label
    studies = aggregate_studies(rows, "max", THRESHOLD)
    label_studies(rows, studies)
    lines = {"source": "labels CSV labels.csv", **agreement("films", rows).lines()}
    page = write_html(
        tmp_path / "report.html", studies, rows, "t", {}, truth=lines, roc=roc_png(rows, studies)
    ).read_text()
    assert page.index("Scores against the truth") < page.index("<section")
    assert "films AUROC" in page and "labels CSV labels.csv" in page and 'alt="ROC curves of this folder"' in page
    assert "<td>anomalous</td>" in page and "truth: normal" in page

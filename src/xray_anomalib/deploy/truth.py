"""The truth of a prediction run's films, where their folders or a labels CSV give it, and how the scores meet it.

Truth comes from a labels CSV (``--labels``: the labelled collection's format, ``path,label`` with ``path``
relative to the input folder) or, without one, from MURA's study folder names (``study1_positive``). A study is
anomalous when one of its labelled films is. Labelled films that are not scored (unreadable, no hand) are counted,
and labels naming films that are not in the input are listed: nothing is dropped silently.

Example:
    >>> truth = truth_of(films, Path("MURA-v1.1/valid/XR_HAND"), labels=None)  # doctest: +SKIP
    >>> truth.films["patient11185/study1_positive/image1.png"]  # doctest: +SKIP
    1
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from xray_anomalib.data.labelled import read_labelled_index
from xray_anomalib.data.mura import study_label
from xray_anomalib.deploy.inputs import FilmInput
from xray_anomalib.deploy.report import FilmRow, StudyRow, printable
from xray_anomalib.metrics.intervals import Interval, auroc_interval, has_both_classes, operating_point_interval

OPERATING_POINT = ("sensitivity", 0.9)
"""The fixed-specificity point the report gives beside the model's own threshold: sensitivity at 90% specificity."""


@dataclass(frozen=True)
class Truth:
    """The labels of a run's films.

    Attributes:
        films: Film name (its path relative to the input) -> 1 anomalous or 0 normal, for the labelled films.
        source: Where the labels come from, in words.
        unmatched: Labelled paths that name no film of the input.
    """

    films: dict[str, int]
    source: str
    unmatched: tuple[str, ...] = ()


@dataclass(frozen=True)
class Agreement:
    """How the scores of one level (films or studies) meet the truth.

    Attributes:
        level: ``films`` or ``studies``.
        items: Scored items with truth.
        anomalous: Of them, anomalous.
        unscored: Items with truth that were not scored.
        auroc: AUROC with its 95% bootstrap interval; ``None`` when the items hold one class.
        sensitivity: Share of the anomalous items the model's threshold flags (NaN without anomalous items).
        specificity: Share of the normal items it leaves unflagged (NaN without normal items).
        sensitivity_at_90_specificity: The best sensitivity at 90% specificity, with its interval; ``None`` as AUROC.
    """

    level: str
    items: int
    anomalous: int
    unscored: int
    auroc: Interval | None
    sensitivity: float
    specificity: float
    sensitivity_at_90_specificity: Interval | None

    def lines(self) -> dict[str, str]:
        """The report's lines for this level."""
        counts = f"{self.items} {self.level} with truth scored ({self.anomalous} anomalous)"
        if self.unscored:
            counts += f"; {self.unscored} with truth not scored"
        if self.auroc is None:
            return {f"{self.level}": f"{counts}; AUROC needs normal and anomalous {self.level}"}
        return {
            f"{self.level}": counts,
            f"{self.level} AUROC": f"{self.auroc} (95% bootstrap interval)",
            f"{self.level} at the threshold": (
                f"sensitivity {_rate(self.sensitivity)}, specificity {_rate(self.specificity)}"
            ),
            f"{self.level} sensitivity at 90% specificity": str(self.sensitivity_at_90_specificity),
        }


def truth_of(films: list[FilmInput], source: str | Path, labels: str | Path | None = None) -> Truth | None:
    """The truth of ``films`` found under ``source``, or ``None`` when nothing labels them.

    Args:
        films: The films found (:func:`~xray_anomalib.deploy.inputs.find_inputs`).
        source: The input film or folder.
        labels: A labels CSV (``path,label``; paths relative to ``source``); without it, MURA study folder names.

    Raises:
        FileNotFoundError: When ``labels`` does not exist.
        MuraLayoutError: Naming the CSV's file and line of a bad row (see
            :func:`~xray_anomalib.data.labelled.read_labelled_index`).
    """
    names = {printable(item.name) for item in films}
    if labels is not None:
        source = Path(source)
        index = read_labelled_index(labels, source if source.is_dir() else source.parent)
        listed = dict(zip(index["rel_path"], index["study_label"].astype(int), strict=True))
        known = {name: label for name, label in listed.items() if name in names}
        return Truth(known, f"labels CSV {labels}", tuple(sorted(set(listed) - names)))
    from_folders = {
        printable(item.name): label
        for item in films
        if (label := study_label(PurePosixPath(item.study).name)) is not None
    }
    if not from_folders:
        return None
    return Truth(from_folders, "MURA study folder names (study<N>_positive, study<N>_negative)")


def label_studies(films: list[FilmRow], studies: list[StudyRow]) -> None:
    """Write the truth of the film rows into their study rows (a study is anomalous when one of its films is)."""
    by_study: dict[str, list[int]] = {}
    for row in films:
        if row.truth is not None:
            by_study.setdefault(row.study, []).append(row.truth)
    for study in studies:
        study.truth = max(by_study[study.study]) if study.study in by_study else None


def agreement(level: str, rows: list[FilmRow] | list[StudyRow]) -> Agreement:
    """How the scores of ``rows`` (films or studies, truth written in) meet their truth."""
    labelled = [row for row in rows if row.truth is not None]
    scored = [row for row in labelled if row.score is not None]
    truth = np.array([row.truth for row in scored], dtype=int)
    scores = np.array([row.score for row in scored], dtype=float)
    flagged = np.array([bool(row.label) for row in scored])
    both = has_both_classes(truth)
    return Agreement(
        level=level,
        items=len(scored),
        anomalous=int(truth.sum()),
        unscored=len(labelled) - len(scored),
        auroc=auroc_interval(truth, scores) if both else None,
        sensitivity=_share(flagged[truth == 1]),
        specificity=_share(~flagged[truth == 0]),
        sensitivity_at_90_specificity=operating_point_interval(truth, scores, *OPERATING_POINT) if both else None,
    )


def roc_png(films: list[FilmRow], studies: list[StudyRow]) -> str | None:
    """The ROC curves of the films and the studies as a PNG data URI; ``None`` when no level holds both classes."""
    figure = Figure(figsize=(4.2, 4.2))
    axis = figure.subplots()
    drawn = False
    for level, rows in (("films", films), ("studies", studies)):
        scored = [row for row in rows if row.truth is not None and row.score is not None]
        truth = np.array([row.truth for row in scored], dtype=int)
        if not has_both_classes(truth):
            continue
        false_positive, true_positive, _ = roc_curve(truth, [row.score for row in scored])
        axis.plot(false_positive, true_positive, linewidth=1.5, label=f"{level} ({len(scored)})")
        drawn = True
    if not drawn:
        return None
    axis.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="chance")
    axis.set_xlabel("false positive rate (1 - specificity)")
    axis.set_ylabel("true positive rate (sensitivity)")
    axis.set_title("ROC of this folder")
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else float("nan")


def _rate(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"

"""How sure an AUROC or an operating point is: bootstrap intervals over the films, and paired comparisons.

``anomalib test`` prints the intervals of its image metrics (:class:`~xray_anomalib.metrics.bootstrap.BootstrapBound`);
the benchmark gives them per film and per study and compares models. The films of a seed's test split are the same
for every model and variant of that seed, so two models are compared on the same films: each bootstrap replicate
draws the films once (with replacement) and scores both models on them, which keeps the pairing (a paired bootstrap
of the AUROC difference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

REPLICATES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A statistic with its bootstrap percentile interval.

    Attributes:
        value: The statistic on the films as they are.
        low: Lower end of the interval.
        high: Upper end of the interval.
        p_not_above: For a difference, the share of replicates where it is 0 or below (one-sided); else NaN.
    """

    value: float
    low: float
    high: float
    p_not_above: float = float("nan")

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def has_both_classes(labels: np.ndarray) -> bool:
    """Whether ``labels`` hold normal and anomalous films (an AUROC or a bootstrap draw of it needs both)."""
    return len(np.unique(np.asarray(labels))) >= 2


def _replicates(labels: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    """``(replicates, N)`` film indices, each row a bootstrap draw that holds both classes (AUROC needs them).

    Raises:
        ValueError: When the films hold one class (no draw could hold both).
    """
    if not has_both_classes(labels):
        msg = "A bootstrap interval needs normal and anomalous films; these hold one class."
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    drawn = np.empty((0, len(labels)), dtype=np.int64)
    while len(drawn) < replicates:
        index = rng.integers(0, len(labels), (replicates, len(labels)))
        positives = labels[index].sum(axis=1)
        drawn = np.concatenate([drawn, index[(positives > 0) & (positives < len(labels))]])
    return drawn[:replicates]


def _aurocs(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each row (Mann-Whitney with average ranks for ties, as scikit-learn's ``roc_auc_score``)."""
    ranks = rankdata(scores, axis=1)
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    return ((ranks * labels).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)


def auroc_interval(labels: np.ndarray, scores: np.ndarray, replicates: int = REPLICATES, seed: int = 0) -> Interval:
    """The image AUROC with its bootstrap interval over the films."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    index = _replicates(labels, replicates, seed)
    low, high = np.quantile(_aurocs(labels[index], scores[index]), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Interval(float(roc_auc_score(labels, scores)), float(low), float(high))


def paired_difference(
    labels: np.ndarray, scores: np.ndarray, reference: np.ndarray, replicates: int = REPLICATES, seed: int = 0
) -> Interval:
    """AUROC of ``scores`` minus AUROC of ``reference`` on the same films, with a paired bootstrap interval."""
    labels = np.asarray(labels)
    scores, reference = np.asarray(scores, dtype=float), np.asarray(reference, dtype=float)
    index = _replicates(labels, replicates, seed)
    differences = _aurocs(labels[index], scores[index]) - _aurocs(labels[index], reference[index])
    low, high = np.quantile(differences, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    value = roc_auc_score(labels, scores) - roc_auc_score(labels, reference)
    return Interval(float(value), float(low), float(high), float((differences <= 0).mean()))


def _rates_at(labels: np.ndarray, scores: np.ndarray, rate: str, target: float) -> np.ndarray:
    """Per row, the best point of its ROC curve at a fixed rate, as torchmetrics defines it.

    ``rate="sensitivity"``: the sensitivity at specificity ``>= target``; ``"specificity"``: the specificity at
    sensitivity ``>= target``. A film is positive when its score reaches the threshold. The best sensitivity keeps
    the lowest threshold above the ``ceil(target * N)``-th lowest normal score; the best specificity the highest
    threshold at or below the ``ceil(target * P)``-th highest anomalous score.
    """
    positive = labels.astype(bool)
    counts = np.where(rate == "sensitivity", (~positive).sum(axis=1), positive.sum(axis=1))
    needed = np.ceil(target * counts - 1e-9).astype(int)[:, None]  # films the operating point must keep
    if rate == "sensitivity":
        normals = np.sort(np.where(positive, np.inf, scores), axis=1)
        cut = np.take_along_axis(normals, needed - 1, axis=1)
        return (positive & (scores > cut)).sum(axis=1) / positive.sum(axis=1)
    anomalous = -np.sort(np.where(positive, -scores, np.inf), axis=1)  # highest first
    cut = np.take_along_axis(anomalous, needed - 1, axis=1)
    return (~positive & (scores < cut)).sum(axis=1) / (~positive).sum(axis=1)


def operating_point_interval(
    labels: np.ndarray,
    scores: np.ndarray,
    rate: str,
    target: float,
    replicates: int = REPLICATES,
    seed: int = 0,
) -> Interval:
    """An operating point (see :func:`_rates_at`) with its bootstrap interval over the films."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    index = _replicates(labels, replicates, seed)
    low, high = np.quantile(_rates_at(labels[index], scores[index], rate, target), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    value = _rates_at(labels[None], scores[None], rate, target)[0]
    return Interval(float(value), float(low), float(high))

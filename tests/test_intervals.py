"""Bootstrap intervals of AUROCs and operating points over test films, and paired comparisons of two models."""

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from xray_anomalib.metrics.intervals import auroc_interval, operating_point_interval, paired_difference


def _films(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    return labels, rng.normal(size=n) + separation * labels


def test_the_interval_holds_the_value_and_narrows_with_more_films() -> None:
    few = auroc_interval(*_films(40, 1.0, seed=0), replicates=500)
    many = auroc_interval(*_films(400, 1.0, seed=0), replicates=500)
    for interval in (few, many):
        assert interval.low <= interval.value <= interval.high
    assert many.high - many.low < (few.high - few.low) / 2
    assert auroc_interval(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), replicates=50).low == 1.0


def test_a_paired_comparison_sees_a_real_difference_and_none_where_there_is_none() -> None:
    labels, strong = _films(200, 2.0, seed=1)
    weak = strong + np.random.default_rng(2).normal(scale=3.0, size=len(labels))  # the same films, more noise
    better = paired_difference(labels, strong, weak, replicates=500)
    assert better.value > 0 and better.low > 0 and better.p_not_above < 0.05
    same = paired_difference(labels, strong, strong, replicates=200)
    assert (same.value, same.low, same.high, same.p_not_above) == (0.0, 0.0, 0.0, 1.0)


def test_operating_points_are_the_best_roc_points_and_carry_intervals() -> None:
    labels, scores = _films(200, 1.5, seed=2)
    scores = np.round(scores, 1)  # ties, as real scores have
    false_positive, true_positive, _ = roc_curve(labels, scores, drop_intermediate=False)
    for target in (0.9, 0.95):
        sensitivity = operating_point_interval(labels, scores, "sensitivity", target, replicates=300)
        assert sensitivity.value == pytest.approx(true_positive[1 - false_positive >= target].max())
        assert sensitivity.low <= sensitivity.value <= sensitivity.high
    specificity = operating_point_interval(labels, scores, "specificity", 0.95, replicates=300)
    assert specificity.value == pytest.approx((1 - false_positive[true_positive >= 0.95]).max())
    perfect = operating_point_interval(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), "sensitivity", 0.95)
    assert (perfect.value, perfect.low) == (1.0, 1.0)

"""The 95% bootstrap interval of an image metric, as two metrics that ``anomalib test`` prints beside it.

``BootstrapBound("low")`` is the lower end of the percentile interval of the image AUROC over the items scored
(``image_AUROC_ci_low``); with ``rate`` and ``target`` it is the interval of an operating point
(``image_sensitivity_at_95_specificity_ci_high``). Both ends of a statistic draw the same replicates (the same
seed), so they form one interval. NaN where the items hold one class.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np
import torch
from anomalib.metrics import AnomalibMetric
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from xray_anomalib.metrics.image import IMAGE_FIELDS
from xray_anomalib.metrics.intervals import Interval, auroc_interval, has_both_classes, operating_point_interval
from xray_anomalib.metrics.operating_points import percent


class End(str, Enum):
    """Which end of the interval a bound is."""

    LOW = "low"
    HIGH = "high"


RATES = {"sensitivity": "specificity", "specificity": "sensitivity"}
"""An operating point's rate, and the rate its target fixes."""


class _BootstrapBound(Metric):
    """One end of the bootstrap interval of the image AUROC, or of an operating point (see the module docstring).

    Args:
        end: ``low`` or ``high``.
        rate: ``sensitivity`` (at a specificity of ``target``) or ``specificity`` (at a sensitivity of ``target``);
            ``None`` for the AUROC.
        target: The fixed rate of the operating point.
        **kwargs: Passed to the torchmetrics metric.
    """

    scores: list[torch.Tensor]
    labels: list[torch.Tensor]

    def __init__(self, end: End | str, rate: str | None = None, target: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if rate is not None and (rate not in RATES or target is None):
            msg = f"An operating point's rate is one of {sorted(RATES)} and needs a target; got {rate!r}, {target!r}."
            raise ValueError(msg)
        self.end, self.rate, self.target_rate = End(end), rate, target
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, scores: torch.Tensor, labels: torch.Tensor) -> None:
        """Keep a batch's scores and labels."""
        self.scores.append(scores.detach().reshape(-1).float())
        self.labels.append(labels.detach().reshape(-1).int())

    def interval(self) -> Interval | None:
        """The statistic with its interval over the items seen; ``None`` when they hold one class."""
        if not len(self.labels):
            return None
        labels, scores = (dim_zero_cat(state).cpu().numpy() for state in (self.labels, self.scores))
        if not has_both_classes(labels):
            return None
        if self.rate is None:
            return auroc_interval(labels, scores.astype(np.float64))
        return operating_point_interval(labels, scores.astype(np.float64), self.rate, float(self.target_rate or 0))

    def compute(self) -> torch.Tensor:
        """This end of the interval, or NaN."""
        interval = self.interval()
        if interval is None:
            return torch.tensor(float("nan"))
        return torch.tensor(interval.low if self.end is End.LOW else interval.high)


class BootstrapBound(AnomalibMetric, _BootstrapBound):  # type: ignore[misc]
    """One end of a 95% bootstrap interval, fed with batches (their ``pred_score`` and ``gt_label``).

    Args:
        end: ``low`` or ``high``.
        rate: ``sensitivity`` or ``specificity`` for an operating point, ``None`` for the AUROC.
        target: The fixed rate of the operating point.
        prefix: Prefix of the metric's name.
        **kwargs: Passed to anomalib's metric base.
    """

    default_fields = IMAGE_FIELDS

    def __init__(
        self,
        end: End | str,
        rate: str | None = None,
        target: float | None = None,
        prefix: str = "image_",
        **kwargs: Any,
    ) -> None:
        super().__init__(end=end, rate=rate, target=target, prefix=prefix, **kwargs)
        statistic = "AUROC" if rate is None else f"{rate}_at_{percent(target or 0)}_{RATES[rate]}"
        self.name = f"{prefix}{statistic}_ci_{End(end).value}"


def interval_bounds(prefix: str, operating_points: list[tuple[str, float]]) -> list[BootstrapBound]:
    """Both ends of the AUROC's interval and of each ``(rate, target)`` operating point's."""
    statistics: list[tuple[str | None, float | None]] = [(None, None), *operating_points]
    return [BootstrapBound(end, rate=rate, target=target, prefix=prefix) for rate, target in statistics for end in End]

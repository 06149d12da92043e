"""The 95% bootstrap interval of an image metric, as metrics that ``anomalib test`` prints beside it.

``IntervalPart("low")`` is the lower end of the percentile interval of the image AUROC over the items scored
(``image_AUROC_ci_low``); with ``rate`` and ``target`` it is the interval of an operating point
(``image_sensitivity_at_95_specificity_ci_high``). Both ends of a statistic draw the same replicates (the same
seed), so they form one interval. NaN where the items hold one class.

With ``level="film"`` or ``level="study"`` the items (hand crops) are first gathered into their films or studies
(by the batch's ``film_index`` or ``study_index``): a film or study scores its highest item and is anomalous when
one of its items is, as the benchmark and ``predict`` score them. Such a metric gives the statistic itself too
(``study_sensitivity_at_90_specificity``), since anomalib's image metrics exist per item only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from anomalib.metrics import AnomalibMetric
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from xray_anomalib.metrics.image import IMAGE_FIELDS
from xray_anomalib.metrics.intervals import Interval, auroc_interval, has_both_classes, operating_point_interval
from xray_anomalib.metrics.operating_points import percent
from xray_anomalib.utils.choices import Choice


class Part(Choice):
    """Which part of a statistic with its interval a metric gives."""

    VALUE = "value"
    LOW = "low"
    HIGH = "high"


class Level(Choice):
    """What a statistic counts: the items scored (hand crops), or the films or studies they belong to."""

    FILM = "film"
    STUDY = "study"

    @property
    def field(self) -> str:
        """The batch field that numbers the film or study of each item."""
        return f"{self.value}_index"


RATES = {"sensitivity": "specificity", "specificity": "sensitivity"}
"""An operating point's rate, and the rate its target fixes."""


def highest_per_group(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each group's highest score and label (anomalous when one of its items is), in the order of first appearance.

    An item seen twice (a distributed sampler pads the last batch with repeats) changes nothing.
    """
    codes, first = np.unique(groups, return_index=True)
    order = np.argsort(first)
    position = np.searchsorted(codes, groups)
    highest, anomalous = np.full(len(codes), -np.inf), np.zeros(len(codes), dtype=labels.dtype)
    np.maximum.at(highest, position, scores)
    np.maximum.at(anomalous, position, labels)
    return highest[order], anomalous[order]


@lru_cache(maxsize=32)
def _interval_of(labels: bytes, scores: bytes, rate: str | None, target: float) -> Interval:
    """The statistic with its interval over ``int64`` labels and ``float64`` scores, drawn once for its three parts.

    The value, low and high parts of one statistic see the same films and draw the same replicates: the first part
    computed runs the bootstrap, the other two read it back.
    """
    label_array, score_array = np.frombuffer(labels, dtype=np.int64), np.frombuffer(scores, dtype=np.float64)
    if rate is None:
        return auroc_interval(label_array, score_array)
    return operating_point_interval(label_array, score_array, rate, target)


class _IntervalPart(Metric):
    """One part of a statistic with its bootstrap interval (see the module docstring).

    Args:
        part: ``value``, ``low`` or ``high``.
        rate: ``sensitivity`` (at a specificity of ``target``) or ``specificity`` (at a sensitivity of ``target``);
            ``None`` for the AUROC.
        target: The fixed rate of the operating point.
        **kwargs: Passed to the torchmetrics metric.
    """

    scores: list[torch.Tensor]
    labels: list[torch.Tensor]
    groups: list[torch.Tensor]

    def __init__(self, part: Part | str, rate: str | None = None, target: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if rate is not None and (rate not in RATES or target is None):
            msg = f"An operating point's rate is one of {sorted(RATES)} and needs a target; got {rate!r}, {target!r}."
            raise ValueError(msg)
        self.part, self.rate, self.target_rate = Part(part), rate, target
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("groups", default=[], dist_reduce_fx="cat")

    def update(self, scores: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None) -> None:
        """Keep a batch's scores and labels, and the film or study of each item when the statistic gathers them."""
        self.scores.append(scores.detach().reshape(-1).float())
        self.labels.append(labels.detach().reshape(-1).int())
        if groups is not None:
            self.groups.append(groups.detach().reshape(-1).long())

    def interval(self) -> Interval | None:
        """The statistic with its interval over the items (or groups) seen; ``None`` when they hold one class."""
        if not len(self.labels):
            return None
        labels, scores = (dim_zero_cat(state).cpu().numpy() for state in (self.labels, self.scores))
        scores = scores.astype(np.float64)
        if len(self.groups):
            scores, labels = highest_per_group(scores, labels, dim_zero_cat(self.groups).cpu().numpy())
        if not has_both_classes(labels):
            return None
        target = float(self.target_rate or 0)
        return _interval_of(labels.astype(np.int64).tobytes(), scores.astype(np.float64).tobytes(), self.rate, target)

    def compute(self) -> torch.Tensor:
        """This part of the statistic, or NaN."""
        interval = self.interval()
        if interval is None:
            return torch.tensor(float("nan"))
        return torch.tensor(getattr(interval, self.part.value))


class IntervalPart(AnomalibMetric, _IntervalPart):  # type: ignore[misc]
    """One part of a statistic with its 95% bootstrap interval, fed with batches.

    Per item it reads ``pred_score`` and ``gt_label``; per film or study also ``film_index`` or ``study_index``
    (batches without them leave the metric NaN: anomalib's own datamodules do not number films).

    Args:
        part: ``value``, ``low`` or ``high``.
        rate: ``sensitivity`` or ``specificity`` for an operating point, ``None`` for the AUROC.
        target: The fixed rate of the operating point.
        prefix: Prefix of the metric's name for a statistic per item; a film's or study's is the level's name.
        level: ``film`` or ``study`` to gather the items first; ``None`` counts the items.
        **kwargs: Passed to anomalib's metric base.
    """

    def __init__(
        self,
        part: Part | str,
        rate: str | None = None,
        target: float | None = None,
        prefix: str = "image_",
        level: Level | str | None = None,
        **kwargs: Any,
    ) -> None:
        level = None if level is None else Level(level)
        fields = [*IMAGE_FIELDS] if level is None else [*IMAGE_FIELDS, level.field]
        prefix = prefix if level is None else f"{level.value}_"
        super().__init__(
            part=part, rate=rate, target=target, fields=fields, prefix=prefix, strict=level is None, **kwargs
        )
        statistic = "AUROC" if rate is None else f"{rate}_at_{percent(target or 0)}_{RATES[rate]}"
        suffix = "" if self.part is Part.VALUE else f"_ci_{self.part.value}"
        self.name = f"{prefix}{statistic}{suffix}"

    def compute(self) -> torch.Tensor:
        """This part of the statistic; NaN, not anomalib's ``None``, when no batch numbered its films."""
        return _IntervalPart.compute(self)


def _statistics(operating_points: list[tuple[str, float]]) -> list[tuple[str | None, float | None]]:
    """The AUROC and each ``(rate, target)`` operating point."""
    return [(None, None), *operating_points]


def interval_bounds(prefix: str, operating_points: list[tuple[str, float]]) -> list[IntervalPart]:
    """Both ends of the interval of the items' AUROC and of each ``(rate, target)`` operating point."""
    ends = (Part.LOW, Part.HIGH)
    return [
        IntervalPart(end, rate=rate, target=target, prefix=prefix)
        for rate, target in _statistics(operating_points)
        for end in ends
    ]


def level_statistics(level: Level | str, operating_points: list[tuple[str, float]]) -> list[IntervalPart]:
    """The AUROC and each operating point per film or study, each with both ends of its interval."""
    return [
        IntervalPart(part, rate=rate, target=target, level=level)
        for rate, target in _statistics(operating_points)
        for part in Part
    ]

"""Operating points of the image score, as radiology reports them: sensitivity at a fixed specificity, and back.

``SensitivityAtSpecificity(0.95)`` is the highest share of anomalous items found by a threshold that leaves at
least 95% of the normal items below it (torchmetrics' definition, over the ROC curve); ``SpecificityAtSensitivity``
the other way round. Both are NaN where the items hold one class. ``anomalib test`` scores hand crops, so these
are per crop; :mod:`xray_anomalib.metrics.bootstrap` gives them per film and per study, with bootstrap intervals.

``OperatingPointThreshold`` is the threshold itself, fitted on the validation items, for
:class:`~xray_anomalib.post_processing.OperatingPointPostProcessor`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from anomalib.metrics import AnomalibMetric
from anomalib.metrics.threshold import Threshold
from torchmetrics import Metric
from torchmetrics.classification import BinarySensitivityAtSpecificity, BinarySpecificityAtSensitivity
from torchmetrics.utilities import dim_zero_cat

from xray_anomalib.metrics.image import IMAGE_FIELDS, both_classes
from xray_anomalib.utils.choices import Choice

SPECIFICITY_TARGETS = (0.90, 0.95)
"""Specificities at which the sensitivity is reported."""
SENSITIVITY_TARGETS = (0.95,)
"""Sensitivities at which the specificity is reported."""


class ThresholdPolicy(Choice):
    """How the image threshold is chosen on the validation items."""

    SPECIFICITY = "specificity"
    """At least ``target`` of the normal items lie at or below it (only normal items are needed)."""
    SENSITIVITY = "sensitivity"
    """At least ``target`` of the anomalous items lie above it."""


def percent(share: float) -> str:
    """``0.95`` as ``95``: the operating point in a metric's name."""
    return f"{100 * share:g}"


class _RateAtOperatingPoint(AnomalibMetric, Metric):  # type: ignore[misc]
    """Mixed before a torchmetrics ``*At*`` metric: fed with batches, its rate alone, NaN with one class.

    Some models give ``(B, 1)`` scores, which torchmetrics' curves refuse beside ``(B,)`` labels: they are
    flattened.
    """

    target: list[torch.Tensor] | torch.Tensor

    def update(self, batch: Any, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]  # anomalib's batch
        """Add a batch's scores and labels."""
        del args, kwargs
        scores, labels = (getattr(batch, name).reshape(-1) for name in IMAGE_FIELDS)
        super(AnomalibMetric, self).update(scores, labels)  # type: ignore[safe-super]  # the torchmetrics metric mixed in after this class

    def compute(self) -> torch.Tensor:
        """The rate at the operating point without its threshold, or NaN when the items hold one class."""
        if not both_classes(self.target):
            return torch.tensor(float("nan"))
        rate, _ = super().compute()
        return rate


class SensitivityAtSpecificity(_RateAtOperatingPoint, BinarySensitivityAtSpecificity):  # type: ignore[misc]
    """Sensitivity of the image score at ``specificity`` or more, named e.g. ``image_sensitivity_at_95_specificity``.

    Args:
        specificity: The least specificity of the operating point.
        prefix: Prefix of the metric's name.
        **kwargs: Passed to torchmetrics' ``BinarySensitivityAtSpecificity``.
    """

    def __init__(self, specificity: float, prefix: str = "image_", **kwargs: Any) -> None:
        super().__init__(min_specificity=specificity, fields=list(IMAGE_FIELDS), prefix=prefix, **kwargs)
        self.name = f"{prefix}sensitivity_at_{percent(specificity)}_specificity"


class SpecificityAtSensitivity(_RateAtOperatingPoint, BinarySpecificityAtSensitivity):  # type: ignore[misc]
    """Specificity of the image score at ``sensitivity`` or more, named e.g. ``image_specificity_at_95_sensitivity``.

    Args:
        sensitivity: The least sensitivity of the operating point.
        prefix: Prefix of the metric's name.
        **kwargs: Passed to torchmetrics' ``BinarySpecificityAtSensitivity``.
    """

    def __init__(self, sensitivity: float, prefix: str = "image_", **kwargs: Any) -> None:
        super().__init__(min_sensitivity=sensitivity, fields=list(IMAGE_FIELDS), prefix=prefix, **kwargs)
        self.name = f"{prefix}specificity_at_{percent(sensitivity)}_sensitivity"


class _OperatingPointThreshold(Threshold):
    """The image threshold of a policy: an item is anomalous when its score is above it.

    ``specificity``: the lowest normal score with at least ``target`` of the normal scores at or below it.
    ``sensitivity``: just below the highest anomalous score with at least ``target`` of the anomalous scores at or
    above it. NaN when the items lack the class the policy needs (anomalib then falls back to its default).

    Args:
        policy: A :class:`ThresholdPolicy`.
        target: The share the policy guarantees on the items it was fitted on, in ``(0, 1]``.
        **kwargs: Passed to the torchmetrics metric.
    """

    scores: list[torch.Tensor]
    labels: list[torch.Tensor]

    def __init__(self, policy: ThresholdPolicy | str, target: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 < target <= 1:
            msg = f"The threshold's target share must lie in (0, 1]; got {target}."
            raise ValueError(msg)
        self.policy, self.target_share = ThresholdPolicy(policy), float(target)
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, scores: torch.Tensor, labels: torch.Tensor) -> None:
        """Keep a batch's scores and labels."""
        self.scores.append(scores.detach().reshape(-1).float())
        self.labels.append(labels.detach().reshape(-1).bool())

    def compute(self) -> torch.Tensor:
        """The threshold on the scores seen (see the class docstring)."""
        if not len(self.scores):
            return torch.tensor(float("nan"))
        scores, labels = dim_zero_cat(self.scores), dim_zero_cat(self.labels)
        wanted = scores[~labels] if self.policy is ThresholdPolicy.SPECIFICITY else scores[labels]
        if not len(wanted):
            return torch.tensor(float("nan"))
        ordered = wanted.sort().values
        needed = math.ceil(self.target_share * len(ordered) - 1e-9)  # items the policy must keep on its side
        if self.policy is ThresholdPolicy.SPECIFICITY:
            return ordered[needed - 1]
        return torch.nextafter(ordered[len(ordered) - needed], torch.tensor(-math.inf))


class OperatingPointThreshold(AnomalibMetric, _OperatingPointThreshold):  # type: ignore[misc]
    """The image threshold of a policy, updated with batches (their ``pred_score`` and ``gt_label``).

    Args:
        policy: A :class:`ThresholdPolicy`.
        target: The share the policy guarantees on the items it was fitted on.
        **kwargs: Passed to anomalib's metric base (``fields``, ``strict``).
    """

    default_fields = IMAGE_FIELDS

    def __init__(self, policy: ThresholdPolicy | str, target: float, **kwargs: Any) -> None:
        super().__init__(policy=policy, target=target, **kwargs)

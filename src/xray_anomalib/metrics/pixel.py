"""Pixel metrics over the films that have pixel truth, optionally inside the body.

Labels of real collections are often per study, and an anomalous film may have no mask: its empty stand-in mask
would count every pixel of the finding as normal. These metrics leave such films out (the batch's
``gt_mask_known``), keep the normal films and the masked anomalous ones, and count how many were left out.

Pixel AUROC over the whole film rewards any map that is zero outside the body (the background is easy negatives):
``PixelAUROC(in_body=True)`` counts only the pixels of the body mask (the batch's ``body_mask``, the segmentation;
its ``hand_mask`` where it has none), the headline. The body mask is the same whatever the model's preprocessing,
so a ``raw`` model is judged on the same pixels as a ``full`` one.

Example:
    >>> from types import SimpleNamespace
    >>> import torch
    >>> truth = torch.zeros(2, 4, 4, dtype=torch.bool); truth[0, 1, 1] = True
    >>> batch = SimpleNamespace(anomaly_map=truth.float(), gt_mask=truth, gt_mask_known=torch.tensor([True, True]))
    >>> metric = PixelAUROC(); metric.update(batch); metric.compute()
    tensor(1.)
"""

from __future__ import annotations

from typing import Any

import torch
from anomalib.metrics import AnomalibMetric
from anomalib.metrics.aupro import _AUPRO
from anomalib.metrics.auroc import _AUROC
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from xray_anomalib.metrics.localization import peak_hit_counts

PIXEL_FIELDS = ("anomaly_map", "gt_mask")


def films_with_truth(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``(maps, truth, body)`` of the films whose ``gt_mask`` is truth, each ``(N, H * W)``; ``None`` without masks.

    A batch without ``gt_mask_known`` treats every film as having truth; the body is its ``body_mask``, else its
    ``hand_mask``, else the whole film.
    """
    maps, truth = getattr(batch, "anomaly_map", None), getattr(batch, "gt_mask", None)
    if maps is None or truth is None:
        return None
    count = truth.shape[0]
    known = getattr(batch, "gt_mask_known", None)
    keep = torch.ones(count, dtype=torch.bool, device=truth.device) if known is None else known.reshape(count).bool()
    body = getattr(batch, "body_mask", None)
    body = getattr(batch, "hand_mask", None) if body is None else body
    body = torch.ones_like(truth, dtype=torch.bool) if body is None else body
    return maps.reshape(count, -1)[keep], truth.reshape(count, -1)[keep].bool(), body.reshape(count, -1)[keep].bool()


class FilmsWithTruthMetric(AnomalibMetric, Metric):
    """Base of the pixel metrics: each batch's films with pixel truth reach :meth:`update_films`.

    Args:
        name: The metric's name after the prefix.
        prefix: Prefix of the metric's name (``pixel_`` by default).
        **kwargs: Passed to the torchmetrics metric.
    """

    def __init__(self, name: str, prefix: str = "pixel_", **kwargs: Any) -> None:
        super().__init__(fields=list(PIXEL_FIELDS), prefix=prefix, strict=False, **kwargs)
        self.name = prefix + name

    def update(self, batch: Any, *args: Any, **kwargs: Any) -> None:
        """Pass the batch's films that have truth on; a batch without any is not counted as an update."""
        del args, kwargs
        selected = films_with_truth(batch)
        if selected is None or selected[0].numel() == 0:
            self._update_count -= 1
            return
        self.update_films(*selected, shape=tuple(batch.gt_mask.shape[-2:]))

    def update_films(self, maps: torch.Tensor, truth: torch.Tensor, body: torch.Tensor, shape: tuple) -> None:
        """Add ``(N, H * W)`` maps, truth and body masks of films of ``shape`` ``(H, W)``."""
        raise NotImplementedError


class PixelAUROC(FilmsWithTruthMetric, _AUROC):  # type: ignore[misc]
    """Pixel AUROC over the films with pixel truth; ``in_body`` counts only the pixels of the body mask.

    Args:
        in_body: Count only pixels inside the body (``hand_mask``); the name gets ``_in_body``.
        prefix: Prefix of the metric's name (``pixel_`` by default).
        **kwargs: Passed to anomalib's metric base.
    """

    def __init__(self, in_body: bool = False, prefix: str = "pixel_", **kwargs: Any) -> None:
        super().__init__("AUROC_in_body" if in_body else "AUROC", prefix=prefix, **kwargs)
        self.in_body = in_body

    def update_films(self, maps: torch.Tensor, truth: torch.Tensor, body: torch.Tensor, shape: tuple) -> None:
        """Add the pixels (inside the body with ``in_body``)."""
        del shape
        if self.in_body:
            maps, truth = maps[body], truth[body]
        _AUROC.update(self, maps, truth.int())

    def compute(self) -> torch.Tensor:  # type: ignore[override]  # anomalib's AUROC returns the area too
        """The AUROC; NaN where the pixels counted hold one class or none (no anomalous film with a mask)."""
        target: list[torch.Tensor] | torch.Tensor = self.target  # one tensor once synchronised across processes
        truth = dim_zero_cat(target) if isinstance(target, torch.Tensor) or target else torch.zeros(0)
        if truth.numel() == 0 or bool(truth.min() == truth.max()):
            return torch.tensor(float("nan"))
        return _AUROC.compute(self)


class PixelAUPRO(FilmsWithTruthMetric, _AUPRO):  # type: ignore[misc]
    """anomalib's AUPRO (FPR up to 0.3 by default) over the films with pixel truth.

    Args:
        prefix: Prefix of the metric's name (``pixel_`` by default).
        **kwargs: Passed to anomalib's AUPRO (e.g. ``fpr_limit``).
    """

    def __init__(self, prefix: str = "pixel_", **kwargs: Any) -> None:
        super().__init__("AUPRO", prefix=prefix, **kwargs)

    def update_films(self, maps: torch.Tensor, truth: torch.Tensor, body: torch.Tensor, shape: tuple) -> None:
        """Add the films' maps and truth as images."""
        del body
        _AUPRO.update(self, maps.reshape(-1, *shape), truth.reshape(-1, *shape).int())


class PeakHitRate(FilmsWithTruthMetric):
    """Share of the anomalous films with truth whose heatmap peak (inside the body) lies on the anomaly.

    A reader looks at the hottest spot first. Chance is the anomaly's share of the body, averaged over the films
    (:meth:`chance`).

    Args:
        prefix: Prefix of the metric's name (``pixel_`` by default).
        **kwargs: Passed to torchmetrics.
    """

    full_state_update = False
    films: torch.Tensor
    hits: torch.Tensor
    chance_sum: torch.Tensor

    def __init__(self, prefix: str = "pixel_", **kwargs: Any) -> None:
        super().__init__("peak_hit", prefix=prefix, **kwargs)
        self.add_state("films", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("hits", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("chance_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update_films(self, maps: torch.Tensor, truth: torch.Tensor, body: torch.Tensor, shape: tuple) -> None:
        """Count the anomalous films among them."""
        del shape
        films, hits, chance = peak_hit_counts(maps, truth, body)
        self.films += films
        self.hits += hits
        self.chance_sum += chance

    def compute(self) -> torch.Tensor:
        """The hit rate (NaN without anomalous films with truth)."""
        return self.hits / self.films if self.films > 0 else torch.tensor(float("nan"))

    def chance(self) -> float:
        """The expected hit rate of a peak drawn uniformly over the body."""
        return float(self.chance_sum / self.films) if self.films > 0 else float("nan")


class PositivesWithoutMask(AnomalibMetric, Metric):
    """How many anomalous films had no anomaly mask and were left out of the pixel metrics.

    Args:
        prefix: Prefix of the metric's name (``pixel_`` by default).
        **kwargs: Passed to torchmetrics.
    """

    full_state_update = False
    count: torch.Tensor

    def __init__(self, prefix: str = "pixel_", **kwargs: Any) -> None:
        super().__init__(fields=["gt_label"], prefix=prefix, strict=False, **kwargs)
        self.name = f"{prefix}positives_without_mask"
        self.add_state("count", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, batch: Any, *args: Any, **kwargs: Any) -> None:
        """Count the batch's anomalous films whose mask is not truth (all of them when the batch has no masks)."""
        del args, kwargs
        labels = batch.gt_label.reshape(-1).bool()
        known = getattr(batch, "gt_mask_known", None)
        if getattr(batch, "gt_mask", None) is None:
            known = torch.zeros_like(labels)
        elif known is None:
            known = torch.ones_like(labels)
        self.count += (labels & ~known.reshape(-1).bool()).sum()

    def compute(self) -> torch.Tensor:
        """The count."""
        return self.count

"""Does a heatmap point at the anomaly? The share of films whose heatmap peak lies inside the anomaly mask.

The peak is sought inside the body mask, as a reader sees the heatmap on the body only.

A radiologist reads the hottest spot first, so the peak is what must be right. Chance is the share of the hand
that the anomaly covers (a peak drawn uniformly over the hand), averaged over the same films.

Example:
    >>> import torch
    >>> maps = torch.zeros(1, 1, 4, 4); maps[0, 0, 1, 1] = 1.0
    >>> truth = torch.zeros(1, 1, 4, 4, dtype=torch.bool); truth[0, 0, 1, 1] = True
    >>> peak_hits(maps, truth, torch.ones(1, 1, 4, 4)).hit_rate
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PeakHits:
    """Peak-in-mask counts over the anomalous films seen so far.

    Attributes:
        films: Anomalous films counted (films without an anomaly mask are skipped).
        hits: Films whose heatmap peak lies inside the anomaly mask.
        chance_sum: Sum over films of (anomaly area within the hand) / (hand area).
    """

    films: int = 0
    hits: int = 0
    chance_sum: float = 0.0

    @property
    def hit_rate(self) -> float:
        """Share of films whose peak is inside the anomaly."""
        return self.hits / self.films if self.films else float("nan")

    @property
    def chance(self) -> float:
        """Expected hit rate of a peak placed at random on the hand."""
        return self.chance_sum / self.films if self.films else float("nan")

    def update(self, anomaly_maps: torch.Tensor, gt_masks: torch.Tensor, hand_masks: torch.Tensor) -> PeakHits:
        """Count a batch: ``(B, 1, H, W)`` (or ``(B, H, W)``) maps, anomaly masks and hand masks; returns ``self``."""
        count = anomaly_maps.shape[0]
        films, hits, chance = peak_hit_counts(
            anomaly_maps.reshape(count, -1), gt_masks.reshape(count, -1), hand_masks.reshape(count, -1)
        )
        self.films += films
        self.hits += hits
        self.chance_sum += chance
        return self


def peak_hit_counts(maps: torch.Tensor, truth: torch.Tensor, body: torch.Tensor) -> tuple[int, int, float]:
    """Films with an anomaly, films whose peak inside the body lies on it, and the sum of the chance shares.

    Args:
        maps: ``(N, P)`` heatmaps, ``P`` pixels each.
        truth: ``(N, P)`` anomaly masks (films without an anomaly are not counted).
        body: ``(N, P)`` body masks: the peak is sought inside the body (the whole film where the mask is empty),
            as a reader is shown the heatmap on the body only. A map that is flat on the body has no peak: a miss.
    """
    truth, body = truth.bool(), body.bool()
    body = body | ~body.any(dim=1, keepdim=True)
    anomalous = truth.any(dim=1)
    if not anomalous.any():
        return 0, 0, 0.0
    maps, truth, body = maps[anomalous], truth[anomalous], body[anomalous]
    inside = maps.float().masked_fill(~body, float("-inf"))
    peaks = inside.argmax(dim=1, keepdim=True)
    flat = inside.amax(dim=1) == maps.float().masked_fill(~body, float("inf")).amin(dim=1)  # no peak to point at
    hits = int((truth.gather(1, peaks).squeeze(1) & ~flat).sum())
    chance = ((truth & body).sum(dim=1) / body.sum(dim=1)).double().sum().item()
    return int(anomalous.sum()), hits, chance


def peak_hits(anomaly_maps: torch.Tensor, gt_masks: torch.Tensor, hand_masks: torch.Tensor) -> PeakHits:
    """Peak-in-mask counts of one batch (see :meth:`PeakHits.update`)."""
    return PeakHits().update(anomaly_maps, gt_masks, hand_masks)

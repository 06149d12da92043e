"""Does a heatmap point at the anomaly? The share of films whose heatmap peak lies inside the anomaly mask.

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
        maps = anomaly_maps.reshape(count, -1)
        truth = gt_masks.reshape(count, -1).bool()
        hand = hand_masks.reshape(count, -1).bool()
        for index in torch.nonzero(truth.any(dim=1)).flatten().tolist():
            self.films += 1
            self.hits += int(truth[index, maps[index].argmax()])
            self.chance_sum += (truth[index] & hand[index]).sum().item() / max(hand[index].sum().item(), 1)
        return self


def peak_hits(anomaly_maps: torch.Tensor, gt_masks: torch.Tensor, hand_masks: torch.Tensor) -> PeakHits:
    """Peak-in-mask counts of one batch (see :meth:`PeakHits.update`)."""
    return PeakHits().update(anomaly_maps, gt_masks, hand_masks)

"""PyTorch model of an ensemble of trained X-ray models."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from xray_anomalib.models.components.scoring import CombineMethod, Score, ScoreMap, ScoringModel


class ModelEnsembleModel(ScoringModel):
    """Runs every member on the film and combines their chosen scores and maps with a score ensemble.

    Args:
        members: Trained torch models of the toolkit (each returns its configured score and map).
        names: One name per member, used for its ensemble statistics.
        method: ``rank`` or ``zscore``.
    """

    def __init__(
        self,
        members: Sequence[ScoringModel],
        names: Sequence[str],
        method: CombineMethod | str = CombineMethod.RANK,
    ) -> None:
        super().__init__(names, Score.COMBINED, names, method)
        self.names = tuple(names)
        self.members = nn.ModuleList(members)

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """Each member's score and map, by member name."""
        scored = {}
        for name, member in zip(self.names, self.members, strict=True):
            output = member(image, hand_mask)
            scored[name] = (output.pred_score, output.anomaly_map)
        return scored

"""PyTorch model of an ensemble of trained X-ray models: the toolkit's plugins and anomalib's baselines."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from anomalib.data import InferenceBatch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from xray_anomalib.models.components.body_score import BodyScoreMixin, peak_in_body
from xray_anomalib.models.components.scoring import CombineMethod, Score, ScoreMap, ScoringModel


class BaselineMember(nn.Module):
    """A trained anomalib baseline as an ensemble member: its own pre-processing, network and score in the body.

    Its raw score and map (before anomalib's post-processing, whose normalisation clamps) enter the ensemble, which
    standardises them on the normal validation films as it does a plugin's.

    Args:
        module: The baseline's Lightning module (PatchCore, PaDiM, DFM, ...), trained.
    """

    def __init__(self, module: BodyScoreMixin) -> None:
        super().__init__()
        self.pre_processor = module.pre_processor
        self.model = module.model
        self.score_in_body = module.score_in_body
        self.mask_margin = module.mask_margin

    def forward(self, image: torch.Tensor, hand_mask: torch.Tensor) -> InferenceBatch:
        """``pred_score`` ``(B,)`` and ``anomaly_map`` ``(B, 1, H, W)`` of films in ``[0, 1]``."""
        predictions = self.model(self.pre_processor(image) if self.pre_processor else image)
        if self.score_in_body:
            predictions = peak_in_body(predictions, hand_mask, self.mask_margin)
        if predictions.pred_score is None or predictions.anomaly_map is None:
            msg = f"Ensemble member {type(self.model).__name__} gave no image score or no anomaly map."
            raise ValueError(msg)
        anomaly_map = predictions.anomaly_map
        return InferenceBatch(
            pred_score=predictions.pred_score.reshape(-1),
            anomaly_map=anomaly_map.reshape(-1, 1, *anomaly_map.shape[-2:]),
        )


class ResizedMember(nn.Module):
    """A member trained at another size: it scores the film resized to its size, its map is resized back.

    A larger film is averaged down by area (as the toolkit resizes films, and exported exactly: OpenVINO's
    antialiased bilinear resize differs from torch's), a smaller one resized bilinearly; the hand mask by nearest
    neighbour. The member sees the ensemble's film at its size, not a film preprocessed at its size.

    Args:
        member: The member's torch model, called ``member(image, hand_mask)``.
        size: The side of the square films it was trained on.
    """

    def __init__(self, member: nn.Module, size: int) -> None:
        super().__init__()
        self.member = member
        self.size = size

    def forward(self, image: torch.Tensor, hand_mask: torch.Tensor) -> InferenceBatch:
        """The member's score of the resized film and its map at the film's size."""
        size = (self.size, self.size)
        if self.size < image.shape[-1]:
            resized = F.interpolate(image, size=size, mode="area")
        else:
            resized = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        output = self.member(resized, F.interpolate(hand_mask, size=size, mode="nearest"))
        anomaly_map = F.interpolate(output.anomaly_map, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return InferenceBatch(pred_score=output.pred_score, anomaly_map=anomaly_map)


class ModelEnsembleModel(ScoringModel):
    """Runs every member on the film and combines their chosen scores and maps with a score ensemble.

    Args:
        members: Trained torch models, each called ``member(image, hand_mask)``: a plugin's (its configured score
            and map) or a :class:`BaselineMember`, each in a :class:`ResizedMember` when trained at another size.
        names: One name per member, used for its ensemble statistics.
        method: ``rank`` or ``zscore``.
    """

    def __init__(
        self,
        members: Sequence[nn.Module],
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

"""Per-image anomaly scores from per-pixel error maps, computed over the hand mask.

Every score is computed per image from that image's own pixels: it never depends on the other images of
a batch. Scores are named as in configs: ``mse``, ``l1`` and ``topk`` (the mean of the ``k`` largest
squared errors; the paper used ``k = 200``). A margin along the hand's outline can be left out of the mask
(:func:`inner_mask`): a reconstruction misses the outline's sharp edge on every film, normal or not, and that error
can outweigh a small anomaly inside the hand.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from xray_anomalib.models.components.scoring import Score, ScoringModel


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the pixels where ``mask`` is set, per image.

    Args:
        values: ``(B, 1, H, W)`` or ``(B, H, W)`` values.
        mask: Same shape, 0/1.

    Returns:
        ``(B,)`` means; an empty mask gives 0.
    """
    mask = mask.to(values.dtype)
    total = (values * mask).flatten(1).sum(dim=1)
    return total / mask.flatten(1).sum(dim=1).clamp(min=1.0)


def check_margin(margin: int) -> None:
    """Refuse a negative ``mask_margin``."""
    if margin < 0:
        msg = f"mask_margin must be 0 or more pixels, got {margin}."
        raise ValueError(msg)


def inner_mask(mask: torch.Tensor, margin: int) -> torch.Tensor:
    """The mask eroded by ``margin`` pixels (a square neighbourhood), per image.

    The image's border counts as an edge too: where the hand leaves the image (the forearm, cut by the crop) the
    reconstruction is as unreliable as along the outline. An image whose mask the erosion would empty keeps its
    whole mask, so that it is still scored.

    Args:
        mask: ``(B, 1, H, W)`` 0/1 hand mask.
        margin: Pixels removed along the outline; 0 returns ``mask``.

    Returns:
        ``(B, 1, H, W)`` mask.
    """
    check_margin(margin)
    if margin == 0:
        return mask
    outside_padded = F.pad(mask, (margin, margin, margin, margin), value=0.0)
    eroded = -F.max_pool2d(-outside_padded, kernel_size=2 * margin + 1, stride=1)
    emptied = eroded.flatten(1).sum(dim=1) == 0
    return torch.where(emptied.view(-1, 1, 1, 1), mask, eroded)


def error_map(image: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor, score: Score) -> torch.Tensor:
    """Per-pixel error, zero outside the mask: absolute for ``l1``, squared otherwise."""
    difference = image - reconstruction
    errors = difference.abs() if score is Score.L1 else difference.square()
    return errors * mask.to(errors.dtype)


def image_score(errors: torch.Tensor, mask: torch.Tensor, score: Score, top_k: int = 200) -> torch.Tensor:
    """Aggregate a masked error map (from :func:`error_map`) into one score per image.

    Args:
        errors: ``(B, 1, H, W)`` masked errors.
        mask: ``(B, 1, H, W)`` hand mask.
        score: The aggregation.
        top_k: Pixels averaged by ``topk`` (capped at the image's pixel count).

    Returns:
        ``(B,)`` scores.
    """
    if score is Score.TOPK:
        k = min(top_k, errors[0].numel())
        return errors.flatten(1).topk(k, dim=1).values.mean(dim=1)
    return masked_mean(errors, mask)


def reconstruction_scores(
    target: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor, top_k: int = 200, mask_margin: int = 0
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every reconstruction score with its map: ``mse`` and ``topk`` on squared errors, ``l1`` on absolute ones.

    Scores and maps cover the hand mask less ``mask_margin`` pixels along its outline (see :func:`inner_mask`).
    """
    mask = inner_mask(mask.to(target.dtype), mask_margin)
    squared = error_map(target, reconstruction, mask, Score.MSE)
    absolute = error_map(target, reconstruction, mask, Score.L1)
    return {
        Score.MSE.value: (masked_mean(squared, mask), squared),
        Score.L1.value: (masked_mean(absolute, mask), absolute),
        Score.TOPK.value: (image_score(squared, mask, Score.TOPK, top_k), squared),
    }


@dataclass(frozen=True)
class ReconstructionScoring:
    """How a model's reconstruction errors become scores: :func:`reconstruction_scores` with its settings.

    Args:
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
    """

    top_k: int = 200
    mask_margin: int = 0

    def __call__(
        self, target: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Every reconstruction score of ``reconstruction`` against ``target`` over ``mask``, with its map."""
        return reconstruction_scores(target, reconstruction, mask, self.top_k, self.mask_margin)


class ReconstructionModel(ScoringModel):
    """A torch model that reconstructs films and is trained on the losses of its reconstruction (CAE, VAE).

    Args:
        score_names: Every score the model computes, its main score first.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        **selection: ``score``, ``combine`` and ``combine_method`` of
            :class:`~xray_anomalib.models.components.scoring.ScoringModel`.
    """

    def __init__(self, score_names: Sequence[str], top_k: int = 200, mask_margin: int = 0, **selection: Any) -> None:
        super().__init__(score_names, **selection)
        self.reconstruction_scores = ReconstructionScoring(top_k, mask_margin)

    @abstractmethod
    def losses(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training losses of a batch over its hand masks; the ``loss`` entry is optimised, every entry logged."""

"""Named scores of a model, the choice of one of them in config, and combinations of several.

Every torch model of the toolkit computes all of its scores at once (:meth:`ScoringModel.score_maps`, a dict
``name -> (image scores, anomaly map)``); ``score`` in the config picks one, or ``combined`` averages several,
each standardised on the normal films of the validation set (see :class:`ScoreCombination`).

Example:
    >>> combination = ScoreCombination(["mse", "kld"], method="rank")
    >>> combination.members
    ('mse', 'kld')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from enum import StrEnum

import torch
from anomalib.data import InferenceBatch
from torch import nn

from xray_anomalib.utils.choices import Choice


class Score(StrEnum):
    """Every image score of the toolkit's models, by the name configs and reports use."""

    MSE = "mse"
    L1 = "l1"
    TOPK = "topk"
    KLD = "kld"
    MSE_KLD = "mse_kld"
    DISCRIMINATOR = "discriminator"
    CODE_DISCRIMINATOR = "code_discriminator"
    DISCRIMINATOR_MEAN = "discriminator_mean"
    SEGMENTATION = "segmentation"
    SEGMENTATION_MEAN = "segmentation_mean"
    COMBINED = "combined"


RECONSTRUCTION_SCORES = (Score.MSE, Score.L1, Score.TOPK)
"""The scores of a reconstruction's error map (see :mod:`xray_anomalib.models.components.error_maps`)."""

ScoreMap = tuple[torch.Tensor, torch.Tensor]
"""Image scores ``(B,)`` and the anomaly map ``(B, 1, H, W)`` that goes with them."""


class CombineMethod(Choice):
    """How the members of a combined score are put on one scale before they are averaged."""

    RANK = "rank"
    ZSCORE = "zscore"


class ScoreCombination(nn.Module):
    """Average of several scores, each standardised on the normal validation films.

    ``rank`` maps a member's score to the fraction of normal validation films that score below it (its empirical
    distribution function, kept as ``quantiles`` quantiles); ``zscore`` subtracts the normal films' mean and divides
    by their standard deviation. The anomaly map is the mean of the members' maps, each divided by its mean level
    over the hand on the normal validation films, so maps of different units (squared error, Grad-CAM) weigh alike.
    The statistics are buffers: they travel with checkpoints and exported graphs.

    Args:
        members: Names of the scores to combine.
        method: ``rank`` or ``zscore``.
        quantiles: Quantiles of each member's normal scores kept for ``rank``.
    """

    mean: torch.Tensor
    std: torch.Tensor
    reference: torch.Tensor
    map_level: torch.Tensor

    def __init__(
        self,
        members: Sequence[str],
        method: CombineMethod | str = CombineMethod.RANK,
        quantiles: int = 256,
    ) -> None:
        super().__init__()
        if len(members) < 2 or len(set(members)) != len(members):
            msg = f"A combined score needs at least two different scores; got {list(members)}."
            raise ValueError(msg)
        self.members = tuple(members)
        self.method = CombineMethod(method)
        self.register_buffer("mean", torch.zeros(len(members)))
        self.register_buffer("std", torch.ones(len(members)))
        self.register_buffer("reference", torch.zeros(len(members), quantiles))
        self.register_buffer("map_level", torch.ones(len(members)))
        self.is_fitted = False
        self.register_load_state_dict_post_hook(self._mark_fitted)

    @staticmethod
    def _mark_fitted(module: ScoreCombination, incompatible_keys: object) -> None:
        del incompatible_keys
        module.is_fitted = True

    def fit(self, scores: Mapping[str, torch.Tensor], map_levels: Mapping[str, torch.Tensor]) -> None:
        """Store each member's statistics over normal films.

        Args:
            scores: ``name -> (N,)`` scores of N normal films.
            map_levels: ``name -> (N,)`` mean of each film's anomaly map over its hand.
        """
        probabilities = torch.linspace(0, 1, self.reference.shape[1], device=self.reference.device)
        for index, name in enumerate(self.members):
            values = scores[name].to(self.reference.dtype)
            if values.numel() < 2:
                count = values.numel()
                msg = f"The combined score's member {name!r} needs two or more normal validation films; got {count}."
                raise ValueError(msg)
            self.mean[index] = values.mean()
            self.std[index] = values.std().clamp(min=1e-12)
            self.reference[index] = torch.quantile(values, probabilities)
            self.map_level[index] = map_levels[name].mean().clamp(min=1e-12)
        self.is_fitted = True

    def forward(self, scored: Mapping[str, ScoreMap]) -> ScoreMap:
        """Combine the members' scores and maps."""
        if not self.is_fitted:
            msg = "The combined score is not fitted: validate (or train) the model before scoring films with it."
            raise RuntimeError(msg)
        scores = torch.stack([scored[name][0] for name in self.members], dim=1)
        if self.method is CombineMethod.RANK:
            standardised = (scores.unsqueeze(-1) > self.reference).to(scores.dtype).mean(dim=-1)
        else:
            standardised = (scores - self.mean) / self.std
        maps = torch.stack([scored[name][1] / self.map_level[i] for i, name in enumerate(self.members)], dim=0)
        return standardised.mean(dim=1), maps.mean(dim=0)


class ScoringModel(nn.Module, ABC):
    """Torch model that computes named scores with maps and returns the one chosen in config.

    Subclasses implement :meth:`score_maps`; evaluation returns an :class:`~anomalib.data.InferenceBatch`
    with the chosen score (or the combined one) and its map.

    Subclasses take ``score``, ``combine`` and ``combine_method`` through ``**selection`` and pass them on.

    Args:
        score_names: Every score the model computes, its main score first.
        score: The score returned, or ``combined``; ``None`` returns the main score.
        combine: Scores combined when ``score`` is ``combined``.
        combine_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
    """

    def __init__(
        self,
        score_names: Sequence[str],
        score: str | None = None,
        combine: Sequence[str] = (),
        combine_method: CombineMethod | str = CombineMethod.RANK,
    ) -> None:
        super().__init__()
        score = str(getattr(score, "value", score)) if score is not None else str(score_names[0])
        unknown = [name for name in [score, *combine] if name not in (*score_names, Score.COMBINED)]
        if unknown:
            known = [str(name) for name in score_names]
            msg = f"Unknown score(s) {unknown}; this model computes {known} and {str(Score.COMBINED)!r}."
            raise ValueError(msg)
        if combine and score != Score.COMBINED:
            msg = f"combine members {list(combine)} are given but score is {score!r}; set score: {Score.COMBINED}."
            raise ValueError(msg)
        self.score = score
        self.score_names = tuple(str(name) for name in score_names)
        self.combination = ScoreCombination(combine, combine_method) if score == Score.COMBINED else None

    @abstractmethod
    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """Every score with its anomaly map (zero outside the hand).

        Args:
            image: ``(B, C, H, W)`` films in ``[0, 1]``.
            hand_mask: ``(B, 1, H, W)`` hand mask.
        """

    def forward(self, image: torch.Tensor, hand_mask: torch.Tensor | None = None) -> InferenceBatch:
        """Score films: ``pred_score`` ``(B,)`` and ``anomaly_map`` ``(B, 1, H, W)``.

        Args:
            image: ``(B, C, H, W)`` films in ``[0, 1]``.
            hand_mask: ``(B, 1, H, W)`` hand mask; ``None`` counts every pixel.
        """
        mask = torch.ones_like(image[:, :1]) if hand_mask is None else hand_mask
        scored = self.score_maps(image, mask)
        pred_score, anomaly_map = self.combination(scored) if self.combination is not None else scored[self.score]
        return InferenceBatch(pred_score=pred_score, anomaly_map=anomaly_map)

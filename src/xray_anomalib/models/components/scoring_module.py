"""Lightning side of the models that compute several named scores: which one they return."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.module import XrayAnomalyModule


class ScoringModule(XrayAnomalyModule):
    """A module whose torch model is a :class:`~xray_anomalib.models.components.scoring.ScoringModel`.

    It takes the score selection, keeps it in the hyperparameters, and the torch model reads it from there.

    Args:
        image_size: Side of the square input; must be divisible by ``2 ** depth``.
        depth: Number of halvings of the resolution in the model's encoder or discriminator.
        score: The score returned (each model lists its own), or ``combined``.
        combine: Scores combined when ``score`` is ``combined``, e.g. ``[mse, topk]``.
        combine_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        image_size: int,
        depth: int,
        score: str,
        combine: Sequence[str] = (),
        combine_method: str = "rank",
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, depth, **kwargs)
        self.keep_arguments(score=str(score), combine=combine, combine_method=combine_method)

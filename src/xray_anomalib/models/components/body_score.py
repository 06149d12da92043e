"""An anomalib model's image score taken where its heatmap is shown: the map's peak over the body.

anomalib's feature models score the whole input square: the letterbox padding, the film's background and the side
markers and labels outside the body included, while the reader is shown the heatmap on the body only. With
``score_in_body`` the image score is the maximum of the model's own map over the hand (body) mask, less
``mask_margin`` pixels along its outline and the image border (:func:`~.error_maps.inner_mask`), and the map is held
everywhere else at the lowest value it takes inside, so the heatmap's peak and the score are the same place.
"""

from __future__ import annotations

from typing import Any

import torch
from anomalib.data import Batch, InferenceBatch
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch.nn import functional as F  # noqa: N812

from xray_anomalib.models.components.error_maps import check_margin, inner_mask
from xray_anomalib.utils.mixin_base import ModuleMixinBase


def peak_in_body(predictions: InferenceBatch, hand_mask: torch.Tensor, mask_margin: int = 0) -> InferenceBatch:
    """Predictions whose score is the map's maximum inside the mask less ``mask_margin`` pixels.

    Args:
        predictions: A model's raw predictions, ``(B, 1, H, W)`` (or ``(B, H, W)``) ``anomaly_map``.
        hand_mask: ``(B, 1, h, w)`` or ``(B, h, w)`` 0/1 masks, resized to the map (nearest) when sizes differ.
        mask_margin: Pixels along the mask's outline and the image border left out.

    Returns:
        The predictions with the restricted map (same shape) and score (same shape); a film whose mask is empty
        keeps its whole map.
    """
    anomaly_map, pred_score = predictions.anomaly_map, predictions.pred_score
    if anomaly_map is None or pred_score is None:
        msg = "A score restricted to the body needs the model's anomaly map and score; the model gave none."
        raise ValueError(msg)
    maps = anomaly_map.reshape(-1, 1, *anomaly_map.shape[-2:])
    mask = hand_mask.reshape(-1, 1, *hand_mask.shape[-2:]).to(maps.dtype)
    if mask.shape[-2:] != maps.shape[-2:]:
        mask = F.interpolate(mask, size=maps.shape[-2:], mode="nearest")
    inside = inner_mask(mask, mask_margin) > 0
    inside = inside | ~inside.flatten(1).any(dim=1).view(-1, 1, 1, 1)
    floor = maps.masked_fill(~inside, float("inf")).flatten(1).amin(dim=1).view(-1, 1, 1, 1)
    restricted = torch.where(inside, maps, floor)
    score = restricted.flatten(1).amax(dim=1)
    return InferenceBatch(
        pred_score=score.reshape(pred_score.shape),
        pred_label=predictions.pred_label,
        anomaly_map=restricted.reshape(anomaly_map.shape),
        pred_mask=predictions.pred_mask,
    )


class BodyScoreMixin(ModuleMixinBase):
    """Mix into an anomalib model: with ``score_in_body`` its score and map are restricted by :func:`peak_in_body`.

    The model's forward and export then take the hand mask as a second input, as this toolkit's plugins do.

    Attributes:
        score_in_body: Restrict the score and map to the body (the constructor of a model that offers it sets it).
        mask_margin: Pixels along the body's outline and the image border left out.
        takes_hand_mask: Whether the forward and the export take the hand mask (when the score is restricted).
    """

    score_in_body: bool = False
    mask_margin: int = 0
    takes_hand_mask: bool = False

    def restrict_to_body(self, score_in_body: bool, mask_margin: int) -> None:
        """Set whether the score is restricted and its margin (checked); the model then takes the hand mask."""
        check_margin(mask_margin)
        self.score_in_body = score_in_body
        self.mask_margin = mask_margin
        self.takes_hand_mask = score_in_body  # the forward and the exported graph then take the hand mask

    def scored(self, image: torch.Tensor, hand_mask: torch.Tensor | None = None) -> InferenceBatch:
        """The torch model's predictions on pre-processed images, restricted to the body when asked and given."""
        predictions = self.model(image)
        if not self.score_in_body or hand_mask is None:
            return predictions
        return peak_in_body(predictions, hand_mask, self.mask_margin)

    def forward(self, batch: torch.Tensor, hand_mask: torch.Tensor | None = None, *args, **kwargs) -> InferenceBatch:
        """Pre-process, score (restricted to ``hand_mask`` when the score is) and post-process, as the export does."""
        del args, kwargs
        image = self.pre_processor(batch) if self.pre_processor else batch
        predictions = self.scored(image, hand_mask)
        return self.post_processor(predictions) if self.post_processor else predictions

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """The anomalib model's step, then the restriction to the batch's hand masks."""
        return self._restricted(super().validation_step(batch, *args, **kwargs))

    def test_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """The anomalib model's step, then the restriction to the batch's hand masks."""
        return self._restricted(super().test_step(batch, *args, **kwargs))

    def predict_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """The anomalib model's step, then the restriction to the batch's hand masks."""
        return self._restricted(super().predict_step(batch, *args, **kwargs))

    def _restricted(self, batch: Any) -> Any:
        hand_mask = getattr(batch, "hand_mask", None)
        if not self.score_in_body or hand_mask is None:
            return batch
        predictions = InferenceBatch(pred_score=batch.pred_score, anomaly_map=batch.anomaly_map)
        restricted = peak_in_body(predictions, hand_mask, self.mask_margin)
        return batch.update(pred_score=restricted.pred_score, anomaly_map=restricted.anomaly_map)

"""Base class of the X-ray model plugins: hand masks reach the model, and no ImageNet normalisation."""

from __future__ import annotations

from typing import Any

import torch
from anomalib import LearningType
from anomalib.data import Batch
from anomalib.models import AnomalibModule
from anomalib.pre_processing import PreProcessor
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torchvision.transforms.v2 import Resize

from xray_anomalib.export import FixedSizeExportMixin
from xray_anomalib.visualization import FilmVisualizerMixin


class XrayAnomalyModule(FixedSizeExportMixin, FilmVisualizerMixin, AnomalibModule):
    """An :class:`~anomalib.models.AnomalibModule` whose torch model takes ``(image, hand_mask)``.

    The torch model's eval forward is ``model(image, hand_mask=None)``: with a mask (from the data) scores and
    heatmaps are restricted to the hand; without one (an exported graph) the whole image counts.
    """

    @staticmethod
    def configure_pre_processor(image_size: tuple[int, int] | None = None) -> PreProcessor:
        """Resize only: films are in ``[0, 1]`` and the models scale them themselves (no ImageNet statistics)."""
        return PreProcessor(transform=Resize(image_size or (256, 256), antialias=True))

    @property
    def learning_type(self) -> LearningType:
        """Trained on normal films only."""
        return LearningType.ONE_CLASS

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """No gradient clipping or sanity validation forced; Lightning's defaults apply."""
        return {}

    @staticmethod
    def hand_mask_of(batch: Batch) -> torch.Tensor | None:
        """The batch's hand mask as ``(B, 1, H, W)`` float, or ``None`` when the batch has none."""
        mask = getattr(batch, "hand_mask", None)
        if mask is None:
            return None
        return mask.reshape(batch.image.shape[0], 1, *batch.image.shape[-2:]).to(batch.image.dtype)

    def _predict(self, batch: Batch) -> STEP_OUTPUT:
        predictions = self.model(batch.image, hand_mask=self.hand_mask_of(batch))
        return batch.update(**predictions._asdict())

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score a validation batch (the post-processor fits its threshold on these scores)."""
        del args, kwargs
        return self._predict(batch)

    def test_step(self, batch: Batch, batch_idx: int, *args, **kwargs) -> STEP_OUTPUT:
        """Score a test batch."""
        del args, kwargs, batch_idx
        return self._predict(batch)

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> STEP_OUTPUT:
        """Score a batch of new films."""
        del batch_idx, dataloader_idx
        return self._predict(batch)

"""Lightning side of the autoencoder family (CAE, VAE): input-size check, Adam, and the training step."""

from __future__ import annotations

from typing import Any

import torch
from anomalib.data import Batch
from lightning.pytorch.utilities.types import STEP_OUTPUT

from xray_anomalib.models.components.error_maps import ReconstructionModel
from xray_anomalib.models.components.module import XrayAnomalyModule


class ReconstructionModule(XrayAnomalyModule):
    """Trains ``self.model`` (set by the subclass) on the losses its ``losses(image, hand_mask)`` returns.

    ``losses`` returns a dict whose ``loss`` entry is optimised; every entry is logged as ``train_<name>``.

    Args:
        image_size: Side of the square input; must be divisible by ``2 ** depth``.
        depth: Number of halvings in the encoder.
        lr: Adam learning rate.
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    model: ReconstructionModel

    def __init__(
        self,
        image_size: int,
        depth: int,
        lr: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, depth, **kwargs)
        self.lr = lr

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Optimise the model's ``loss`` over the hand pixels; log every loss term."""
        del args, kwargs
        image, mask = self.films_and_masks_of(batch)
        return self.log_losses(self.model.losses(image, mask), image.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as in the paper."""
        return torch.optim.Adam(self.model.parameters(), lr=self.lr)

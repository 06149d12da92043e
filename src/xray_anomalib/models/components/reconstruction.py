"""Lightning side of the autoencoder family (CAE, VAE): input-size check, Adam, and the training step."""

from __future__ import annotations

from typing import Any

import torch
from anomalib.data import Batch
from lightning.pytorch.utilities.types import STEP_OUTPUT

from xray_anomalib.models.components.error_maps import ReconstructionModel
from xray_anomalib.models.components.scoring_module import ScoringModule


class ReconstructionModule(ScoringModule):
    """Trains ``self.model`` (set by the subclass) on the losses its ``losses(image, hand_mask)`` returns.

    ``losses`` returns a dict whose ``loss`` entry is optimised; every entry is logged as ``train_<name>``.

    Args:
        depth: Number of halvings in the encoder.
        score: The score returned (the subclass lists its scores), or ``combined``.
        image_size: Side of the square input; must be divisible by ``2 ** depth``.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        lr: Adam learning rate.
        **kwargs: ``combine`` and ``combine_method`` of
            :class:`~xray_anomalib.models.components.scoring_module.ScoringModule`; ``pre_processor``,
            ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    model: ReconstructionModel

    def __init__(
        self,
        depth: int,
        score: str,
        image_size: int = 256,
        top_k: int = 200,
        mask_margin: int = 0,
        lr: float = 1e-4,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, depth, score, **kwargs)
        self.keep_arguments(top_k=top_k, mask_margin=mask_margin, lr=lr)
        self.lr = lr

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Optimise the model's ``loss`` over the hand pixels; log every loss term."""
        del args, kwargs
        image, mask = self.films_and_masks_of(batch)
        return self.log_losses(self.model.losses(image, mask), image.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as in the paper."""
        return torch.optim.Adam(self.model.parameters(), lr=self.lr)

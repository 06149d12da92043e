"""PyTorch model of the convolutional autoencoder (CAE) of Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from xray_anomalib.models.components import (
    conv_decoder,
    conv_encoder,
    init_weights,
    masked_reconstruction_loss,
    to_model_range,
)
from xray_anomalib.models.components.error_maps import ReconstructionModel
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, ScoreMap


class CaeModel(ReconstructionModel):
    """Encoder of strided conv blocks down to a spatial bottleneck, transposed-conv decoder back up.

    Each encoder stage is a 3x3 conv block followed by a 4x4 stride-2 conv block (BatchNorm + ReLU), as in the
    paper's 1-16-32-...-512 encoder; the decoder mirrors it with stride-2 transposed convolutions and ends in a
    1-channel Tanh. The input is the gray film in ``[0, 1]``, reconstructed in ``[-1, 1]``.

    Args:
        channels: Output channels of each encoder stage; ``len(channels)`` halvings of the resolution.
        bottleneck_channels: Channels of the bottleneck (the paper: 512 at 16 x 16 for 512 px films).
        **scoring: ``top_k``, ``mask_margin`` and the score selection (``score``: ``mse``, ``l1``, ``topk`` or
            ``combined``; ``combine``; ``combine_method``) of :class:`ReconstructionModel`.
    """

    def __init__(
        self, channels: Sequence[int] = (16, 32, 64, 128, 256), bottleneck_channels: int = 512, **scoring: Any
    ) -> None:
        super().__init__(RECONSTRUCTION_SCORES, **scoring)
        self.encoder = conv_encoder(1, channels, bottleneck_channels)
        self.decoder = conv_decoder(bottleneck_channels, channels)
        self.apply(init_weights)

    def reconstruct(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the gray target in ``[-1, 1]`` and its reconstruction."""
        target = to_model_range(image)
        return target, self.decoder(self.encoder(target))

    def losses(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """The masked reconstruction loss (mean squared error over the hand)."""
        target, reconstruction = self.reconstruct(image)
        return {"loss": masked_reconstruction_loss(target, reconstruction, hand_mask)}

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """Reconstruction scores (``mse``, ``l1``, ``topk``) with their error maps."""
        target, reconstruction = self.reconstruct(image)
        return self.reconstruction_scores(target, reconstruction, hand_mask)

"""PyTorch model of the convolutional autoencoder (CAE) of Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from anomalib.data import InferenceBatch
from torch import nn

from xray_anomalib.components import (
    ReconstructionScore,
    conv_decoder,
    conv_encoder,
    error_map,
    image_score,
    init_weights,
    masked_reconstruction_loss,
    to_model_range,
)


class CaeModel(nn.Module):
    """Encoder of strided conv blocks down to a spatial bottleneck, transposed-conv decoder back up.

    Each encoder stage is a 3x3 conv block followed by a 4x4 stride-2 conv block (BatchNorm + ReLU), as in the
    paper's 1-16-32-...-512 encoder; the decoder mirrors it with stride-2 transposed convolutions and ends in a
    1-channel Tanh. The input is the gray film in ``[0, 1]``, reconstructed in ``[-1, 1]``.

    Args:
        channels: Output channels of each encoder stage; ``len(channels)`` halvings of the resolution.
        bottleneck_channels: Channels of the bottleneck (the paper: 512 at 16 x 16 for 512 px films).
        score: Image score at evaluation (``mse``, ``l1`` or ``topk``).
        top_k: Pixels averaged by the ``topk`` score.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        bottleneck_channels: int = 512,
        score: ReconstructionScore | str = ReconstructionScore.MSE,
        top_k: int = 200,
    ) -> None:
        super().__init__()
        self.score = ReconstructionScore(score)
        self.top_k = top_k
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

    def forward(self, image: torch.Tensor, hand_mask: torch.Tensor | None = None) -> torch.Tensor | InferenceBatch:
        """Reconstruct in training; score and map in evaluation.

        Args:
            image: ``(B, C, H, W)`` films in ``[0, 1]``; ``H`` and ``W`` divisible by ``2 ** len(channels)``.
            hand_mask: ``(B, 1, H, W)`` hand mask; ``None`` counts every pixel.

        Returns:
            In training, the reconstruction. In evaluation, an ``InferenceBatch`` with ``pred_score`` ``(B,)``
            and ``anomaly_map`` ``(B, 1, H, W)`` (zero outside the hand).
        """
        target, reconstruction = self.reconstruct(image)
        if self.training:
            return reconstruction
        mask = torch.ones_like(target) if hand_mask is None else hand_mask
        errors = error_map(target, reconstruction, mask, self.score)
        return InferenceBatch(pred_score=image_score(errors, mask, self.score, self.top_k), anomaly_map=errors)

"""PyTorch model of the variational autoencoder (VAE) of Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from xray_anomalib.models.components import (
    conv_decoder,
    conv_encoder,
    init_weights,
    masked_reconstruction_loss,
    to_model_range,
)
from xray_anomalib.models.components.error_maps import ReconstructionModel
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, Score, ScoreMap

SCORES = (*RECONSTRUCTION_SCORES, Score.KLD, Score.MSE_KLD)


class VaeModel(ReconstructionModel):
    """Convolutional VAE with a spatial Gaussian latent (mean and log-variance per latent cell).

    Training samples ``z = mu + sigma * eps``; evaluation uses ``z = mu``, so scores are deterministic (the original
    code sampled at evaluation, giving random scores). ``kld`` and ``mse_kld`` come with the squared-error map.

    Args:
        channels: Output channels of each encoder stage; ``len(channels)`` halvings of the resolution.
        latent_channels: Channels of the latent map.
        kl_weight: Weight of the KL term in the loss and in the ``mse_kld`` score.
        **scoring: ``top_k``, ``mask_margin`` and the score selection (``score``: one of ``SCORES`` or
            ``combined``; ``combine``; ``combine_method``) of :class:`ReconstructionModel`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        latent_channels: int = 64,
        kl_weight: float = 1e-3,
        **scoring: Any,
    ) -> None:
        super().__init__(SCORES, **scoring)
        self.kl_weight = kl_weight
        self.encoder = conv_encoder(1, channels, 2 * latent_channels)
        self.encoder[-1] = nn.Conv2d(channels[-1], 2 * latent_channels, 3, padding=1)  # unbounded mean, log-variance
        self.decoder = conv_decoder(latent_channels, channels)
        self.apply(init_weights)

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gray target in ``[-1, 1]``, latent mean and log-variance."""
        target = to_model_range(image)
        mean, log_variance = self.encoder(target).chunk(2, dim=1)
        return target, mean, log_variance.clamp(-10.0, 10.0)

    @staticmethod
    def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
        """KL divergence to the standard normal, averaged over latent cells: one value per image."""
        return (-0.5 * (1 + log_variance - mean.square() - log_variance.exp())).flatten(1).mean(dim=1)

    def losses(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Masked reconstruction (mean over hand pixels) plus ``kl_weight`` times the KL (mean over latent cells)."""
        target, mean, log_variance = self.encode(image)
        latent = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
        reconstruction = masked_reconstruction_loss(target, self.decoder(latent), hand_mask)
        kld = self.kl_divergence(mean, log_variance).mean()
        return {"loss": reconstruction + self.kl_weight * kld, "reconstruction": reconstruction, "kld": kld}

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """Reconstruction scores from the latent mean, the KL divergence, and reconstruction + weighted KL."""
        target, mean, log_variance = self.encode(image)
        scored = self.reconstruction_scores(target, self.decoder(mean), hand_mask)
        mse, squared = scored[Score.MSE]
        kld = self.kl_divergence(mean, log_variance)
        scored[Score.KLD] = (kld, squared)
        scored[Score.MSE_KLD] = (mse + self.kl_weight * kld, squared)
        return scored

"""PyTorch model of the DCGAN of Davletshina et al. (2020), with a per-film discriminator and Grad-CAM maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from xray_anomalib.models.components import init_weights
from xray_anomalib.models.components.adversarial import (
    AdversarialModel,
    ImageDiscriminator,
    TrainingPhase,
    adversarial_loss,
    latent_generator,
    masked_film,
)
from xray_anomalib.models.components.scoring import Score, ScoreMap


class DcganModel(AdversarialModel):
    """Generator from noise to films, discriminator from films to "real" logits; the anomaly score is ``1 - D(x)``.

    The discriminator sees the film with everything outside the hand set to black. Its heatmap is the closed-form
    Grad-CAM of the score on its last feature map (see :mod:`xray_anomalib.models.components.adversarial`).

    Args:
        channels: Generator stages, from full resolution down (mirrors an encoder's channels).
        discriminator_channels: Discriminator stages; more stages give a coarser heatmap.
        latent_dim: Size of the noise vector.
        image_size: Side of the square films.
        label_smoothing: Real films are labelled ``1 - label_smoothing`` for the discriminator (soft labels).
        **selection: ``score`` (``discriminator``, the only one), ``combine`` and ``combine_method`` of
            :class:`~xray_anomalib.models.components.scoring.ScoringModel`.
    """

    networks = ("generator", "discriminator")

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        latent_dim: int = 128,
        image_size: int = 128,
        label_smoothing: float = 0.1,
        **selection: Any,
    ) -> None:
        super().__init__([Score.DISCRIMINATOR], **selection)
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.generator = latent_generator(latent_dim, channels, image_size)
        self.discriminator = ImageDiscriminator(discriminator_channels, image_size)
        self.apply(init_weights)

    def sample(self, count: int, device: torch.device) -> torch.Tensor:
        """``count`` generated films in ``[-1, 1]``."""
        return self.generator(torch.randn(count, self.latent_dim, device=device))

    def discriminator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """Real films towards (soft) real, generated films towards fake."""
        with torch.no_grad():
            fake = self.sample(image.shape[0], image.device)
        real_logit, _ = self.discriminator(masked_film(image, hand_mask))
        fake_logit, _ = self.discriminator(fake)
        return adversarial_loss(real_logit, True, self.label_smoothing) + adversarial_loss(fake_logit, False)

    def generator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """Generated films towards real (the non-saturating generator loss)."""
        del hand_mask
        fake_logit, _ = self.discriminator(self.sample(image.shape[0], image.device))
        return adversarial_loss(fake_logit, True)

    def training_phases(self) -> list[TrainingPhase]:
        """Discriminator step, then generator step."""
        return [
            TrainingPhase("discriminator", ("discriminator",), self.discriminator_loss),
            TrainingPhase("generator", ("generator",), self.generator_loss),
        ]

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """``discriminator``: ``1 - D(x)`` with its Grad-CAM map."""
        return {Score.DISCRIMINATOR: self.discriminator.score_map(masked_film(image, hand_mask), hand_mask)}

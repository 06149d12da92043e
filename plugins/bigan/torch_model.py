"""PyTorch model of the BiGAN / ALI of Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from xray_anomalib.models.components import init_weights
from xray_anomalib.models.components.adversarial import (
    EncoderGeneratorModel,
    ImageDiscriminator,
    TrainingPhase,
    adversarial_loss,
    masked_film,
)
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, Score, ScoreMap

SCORES = (Score.DISCRIMINATOR, *RECONSTRUCTION_SCORES)


class BiganModel(EncoderGeneratorModel):
    """Encoder ``E``, generator ``G`` and a joint discriminator ``D(x, z)`` (Donahue et al.; Dumoulin et al.).

    ``D`` learns to tell encoded pairs ``(x, E(x))`` from generated pairs ``(G(z), z)``; ``E`` and ``G`` learn to fool
    it, which makes ``G(E(x))`` a reconstruction. Scores: ``discriminator`` (``1 - D(x, E(x))``, Grad-CAM map on the
    image branch) and ``mse``/``l1``/``topk`` of ``G(E(x))`` over the hand (error maps).

    Args:
        discriminator_channels: Stages of the discriminator's image branch.
        **architecture: ``channels``, ``latent_dim``, ``image_size``, ``label_smoothing``, ``top_k``,
            ``mask_margin`` and the score selection of :class:`EncoderGeneratorModel`.
    """

    networks = ("encoder", "generator", "discriminator")

    def __init__(self, discriminator_channels: Sequence[int] = (32, 64, 128, 256), **architecture: Any) -> None:
        super().__init__(SCORES, **architecture)
        self.discriminator = ImageDiscriminator(discriminator_channels, self.image_size, code_dim=self.latent_dim)
        self.apply(init_weights)

    def _pairs_logits(
        self, image: torch.Tensor, hand_mask: torch.Tensor, detach: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of the encoded pair ``(x, E(x))`` and of a generated pair ``(G(z), z)``.

        With ``detach`` the encoder and generator run without autograd (the discriminator's step needs no
        gradient through them), as DCGAN's and alpha-GAN's discriminator steps do.
        """
        film = masked_film(image, hand_mask)
        noise = torch.randn(image.shape[0], self.latent_dim, device=image.device)
        with torch.set_grad_enabled(not detach):
            code, fake = self.encoder(film), self.generator(noise)
        return self.discriminator(film, code)[0], self.discriminator(fake, noise)[0]

    def discriminator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """Encoded pairs towards (soft) real, generated pairs towards fake."""
        encoded, generated = self._pairs_logits(image, hand_mask, detach=True)
        return adversarial_loss(encoded, True, self.label_smoothing) + adversarial_loss(generated, False)

    def encoder_generator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """The swapped labels: encoded pairs towards fake, generated pairs towards real."""
        encoded, generated = self._pairs_logits(image, hand_mask, detach=False)
        return adversarial_loss(encoded, False) + adversarial_loss(generated, True)

    def training_phases(self) -> list[TrainingPhase]:
        """Discriminator step, then a joint encoder and generator step."""
        return [
            TrainingPhase("discriminator", ("discriminator",), self.discriminator_loss),
            TrainingPhase("encoder_generator", ("encoder", "generator"), self.encoder_generator_loss),
        ]

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """``discriminator`` with its Grad-CAM map; reconstruction scores of ``G(E(x))`` with error maps."""
        film, code, scored = self.encode_and_score(image, hand_mask)
        scored[Score.DISCRIMINATOR] = self.discriminator.score_map(film, hand_mask, code)
        return scored

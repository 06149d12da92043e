"""PyTorch model of the alpha-GAN (Rosca et al. 2017) as used by Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from xray_anomalib.models.components import init_weights, masked_reconstruction_loss
from xray_anomalib.models.components.adversarial import (
    EncoderGeneratorModel,
    ImageDiscriminator,
    TrainingPhase,
    adversarial_loss,
    code_discriminator,
    masked_film,
)
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, Score, ScoreMap

SCORES = (Score.DISCRIMINATOR, Score.CODE_DISCRIMINATOR, Score.DISCRIMINATOR_MEAN, *RECONSTRUCTION_SCORES)


class AlphaGanModel(EncoderGeneratorModel):
    """Encoder ``E``, generator ``G``, image discriminator ``D`` and code discriminator ``C``.

    ``E`` and ``G`` minimise a masked L1 reconstruction loss on ``G(E(x))`` plus adversarial terms: ``D`` should take
    reconstructions and samples ``G(z)`` for real films, ``C`` should take codes ``E(x)`` for prior samples. Scores:
    ``discriminator`` (``1 - D(x)``, Grad-CAM map), ``code_discriminator`` (``1 - C(E(x))``, with the reconstruction
    error map: a code has no spatial extent), ``discriminator_mean`` (their mean, Grad-CAM map), and ``mse``/``l1``/
    ``topk`` of the reconstruction. No minibatch discrimination: every score is per film.

    Args:
        discriminator_channels: Image discriminator stages.
        code_hidden: Hidden widths of the code discriminator (the paper: 50, 25).
        reconstruction_weight: Weight of the L1 reconstruction loss (the paper: 0.01).
        **architecture: ``channels``, ``latent_dim``, ``image_size``, ``label_smoothing``, ``top_k``,
            ``mask_margin`` and the score selection of :class:`EncoderGeneratorModel`.
    """

    networks = ("encoder", "generator", "discriminator", "code_discriminator")

    def __init__(
        self,
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        code_hidden: Sequence[int] = (50, 25),
        reconstruction_weight: float = 1.0,
        **architecture: Any,
    ) -> None:
        super().__init__(SCORES, **architecture)
        self.reconstruction_weight = reconstruction_weight
        self.discriminator = ImageDiscriminator(discriminator_channels, self.image_size)
        self.code_discriminator = code_discriminator(self.latent_dim, code_hidden)
        self.apply(init_weights)

    def _forward_all(self, image: torch.Tensor, hand_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Masked film, its code, its reconstruction, a prior sample and its generated film."""
        film = masked_film(image, hand_mask)
        code = self.encoder(film)
        prior = torch.randn(image.shape[0], self.latent_dim, device=image.device)
        return film, code, self.generator(code), prior, self.generator(prior)

    def encoder_generator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """Weighted masked L1 reconstruction, plus fooling ``D`` (reconstructions, samples) and ``C`` (codes)."""
        film, code, reconstruction, _, sample = self._forward_all(image, hand_mask)
        reconstruction_loss = masked_reconstruction_loss(film, reconstruction, hand_mask, l1=True)
        return (
            self.reconstruction_weight * reconstruction_loss
            + adversarial_loss(self.discriminator(reconstruction)[0], True)
            + adversarial_loss(self.discriminator(sample)[0], True)
            + adversarial_loss(self.code_discriminator(code), True)
        )

    def discriminator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """Films towards (soft) real; reconstructions and samples towards fake."""
        with torch.no_grad():
            film, _, reconstruction, _, sample = self._forward_all(image, hand_mask)
        return (
            adversarial_loss(self.discriminator(film)[0], True, self.label_smoothing)
            + adversarial_loss(self.discriminator(reconstruction)[0], False)
            + adversarial_loss(self.discriminator(sample)[0], False)
        )

    def code_discriminator_loss(self, image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
        """Prior samples towards (soft) real; codes of films towards fake."""
        with torch.no_grad():
            code = self.encoder(masked_film(image, hand_mask))
        prior = torch.randn_like(code)
        return adversarial_loss(self.code_discriminator(prior), True, self.label_smoothing) + adversarial_loss(
            self.code_discriminator(code), False
        )

    def training_phases(self) -> list[TrainingPhase]:
        """Encoder and generator step, then the image discriminator's, then the code discriminator's."""
        return [
            TrainingPhase("encoder_generator", ("encoder", "generator"), self.encoder_generator_loss),
            TrainingPhase("discriminator", ("discriminator",), self.discriminator_loss),
            TrainingPhase("code_discriminator", ("code_discriminator",), self.code_discriminator_loss),
        ]

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """Discriminator, code discriminator and reconstruction scores with their maps."""
        film, code, scored = self.encode_and_score(image, hand_mask)
        image_score, cam = self.discriminator.score_map(film, hand_mask)
        code_score = 1 - torch.sigmoid(self.code_discriminator(code))
        scored[Score.DISCRIMINATOR] = (image_score, cam)
        scored[Score.CODE_DISCRIMINATOR] = (code_score, scored[Score.MSE][1])
        scored[Score.DISCRIMINATOR_MEAN] = ((image_score + code_score) / 2, cam)
        return scored

"""PyTorch model of the alpha-GAN (Rosca et al. 2017) as used by Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from xray_anomalib.models.components import init_weights, masked_reconstruction_loss
from xray_anomalib.models.components.adversarial import (
    AdversarialModel,
    ImageDiscriminator,
    TrainingPhase,
    adversarial_loss,
    code_discriminator,
    latent_encoder,
    latent_generator,
    masked_film,
)
from xray_anomalib.models.components.error_maps import reconstruction_scores
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, CombineMethod, Score, ScoreMap

SCORES = (Score.DISCRIMINATOR, Score.CODE_DISCRIMINATOR, Score.DISCRIMINATOR_MEAN, *RECONSTRUCTION_SCORES)


class AlphaGanModel(AdversarialModel):
    """Encoder ``E``, generator ``G``, image discriminator ``D`` and code discriminator ``C``.

    ``E`` and ``G`` minimise a masked L1 reconstruction loss on ``G(E(x))`` plus adversarial terms: ``D`` should take
    reconstructions and samples ``G(z)`` for real films, ``C`` should take codes ``E(x)`` for prior samples. Scores:
    ``discriminator`` (``1 - D(x)``, Grad-CAM map), ``code_discriminator`` (``1 - C(E(x))``, with the reconstruction
    error map: a code has no spatial extent), ``discriminator_mean`` (their mean, Grad-CAM map), and ``mse``/``l1``/
    ``topk`` of the reconstruction. No minibatch discrimination: every score is per film.

    Args:
        channels: Encoder stages (the generator mirrors them).
        discriminator_channels: Image discriminator stages.
        code_hidden: Hidden widths of the code discriminator (the paper: 50, 25).
        latent_dim: Size of ``z`` (the paper: 100).
        image_size: Side of the square films.
        reconstruction_weight: Weight of the L1 reconstruction loss (the paper: 0.01).
        label_smoothing: Soft label of real films and prior codes for the discriminators.
        score: The score returned (one of ``SCORES`` or ``combined``).
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        combine: Scores combined when ``score`` is ``combined``.
        combine_method: ``rank`` or ``zscore``.
    """

    networks = ("encoder", "generator", "discriminator", "code_discriminator")

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        code_hidden: Sequence[int] = (50, 25),
        latent_dim: int = 100,
        image_size: int = 128,
        reconstruction_weight: float = 1.0,
        label_smoothing: float = 0.1,
        score: str = Score.DISCRIMINATOR,
        top_k: int = 200,
        mask_margin: int = 0,
        combine: Sequence[str] = (),
        combine_method: CombineMethod | str = CombineMethod.RANK,
    ) -> None:
        super().__init__(SCORES, score, combine, combine_method)
        self.latent_dim = latent_dim
        self.reconstruction_weight = reconstruction_weight
        self.label_smoothing = label_smoothing
        self.top_k = top_k
        self.mask_margin = mask_margin
        self.encoder = latent_encoder(channels, latent_dim, image_size)
        self.generator = latent_generator(latent_dim, channels, image_size)
        self.discriminator = ImageDiscriminator(discriminator_channels, image_size)
        self.code_discriminator = code_discriminator(latent_dim, code_hidden)
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
        film = masked_film(image, hand_mask)
        code = self.encoder(film)
        scored = reconstruction_scores(film, self.generator(code), hand_mask, self.top_k, self.mask_margin)
        image_score, cam = self.discriminator.score_map(film, hand_mask)
        code_score = 1 - torch.sigmoid(self.code_discriminator(code))
        scored[Score.DISCRIMINATOR] = (image_score, cam)
        scored[Score.CODE_DISCRIMINATOR] = (code_score, scored[Score.MSE][1])
        scored[Score.DISCRIMINATOR_MEAN] = ((image_score + code_score) / 2, cam)
        return scored

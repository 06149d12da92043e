"""PyTorch model of the BiGAN / ALI of Davletshina et al. (2020)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from xray_anomalib.models.components import init_weights
from xray_anomalib.models.components.adversarial import (
    AdversarialModel,
    ImageDiscriminator,
    TrainingPhase,
    adversarial_loss,
    latent_encoder,
    latent_generator,
    masked_film,
)
from xray_anomalib.models.components.error_maps import reconstruction_scores
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, CombineMethod, Score, ScoreMap

SCORES = (Score.DISCRIMINATOR, *RECONSTRUCTION_SCORES)


class BiganModel(AdversarialModel):
    """Encoder ``E``, generator ``G`` and a joint discriminator ``D(x, z)`` (Donahue et al.; Dumoulin et al.).

    ``D`` learns to tell encoded pairs ``(x, E(x))`` from generated pairs ``(G(z), z)``; ``E`` and ``G`` learn to fool
    it, which makes ``G(E(x))`` a reconstruction. Scores: ``discriminator`` (``1 - D(x, E(x))``, Grad-CAM map on the
    image branch) and ``mse``/``l1``/``topk`` of ``G(E(x))`` over the hand (error maps).

    Args:
        channels: Encoder stages (generator mirrors them).
        discriminator_channels: Stages of the discriminator's image branch.
        latent_dim: Size of ``z``.
        image_size: Side of the square films.
        label_smoothing: Soft label of real pairs for the discriminator.
        score: The score returned, or ``combined``.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        combine: Scores combined when ``score`` is ``combined``.
        combine_method: ``rank`` or ``zscore``.
    """

    networks = ("encoder", "generator", "discriminator")

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        latent_dim: int = 100,
        image_size: int = 128,
        label_smoothing: float = 0.1,
        score: str = Score.DISCRIMINATOR,
        top_k: int = 200,
        mask_margin: int = 0,
        combine: Sequence[str] = (),
        combine_method: CombineMethod | str = CombineMethod.RANK,
    ) -> None:
        super().__init__(SCORES, score, combine, combine_method)
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.top_k = top_k
        self.mask_margin = mask_margin
        self.encoder = latent_encoder(channels, latent_dim, image_size)
        self.generator = latent_generator(latent_dim, channels, image_size)
        self.discriminator = ImageDiscriminator(discriminator_channels, image_size, code_dim=latent_dim)
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
        film = masked_film(image, hand_mask)
        code = self.encoder(film)
        scored = reconstruction_scores(film, self.generator(code), hand_mask, self.top_k, self.mask_margin)
        scored[Score.DISCRIMINATOR] = self.discriminator.score_map(film, hand_mask, code)
        return scored

"""Networks and losses shared by the GANs (DCGAN, BiGAN, alpha-GAN), and Grad-CAM maps of their discriminators.

The discriminators end in one linear layer over their last feature map (the paper's last convolution, whose
kernel covers the whole map). For such a head the gradient of the anomaly score ``1 - sigmoid(logit)`` with respect
to the last feature map ``A`` is ``-sigmoid'(logit) * W``, so Grad-CAM (Selvaraju et al. 2017) has a closed form:
channel weights ``alpha_k = mean over cells of that gradient``, map ``ReLU(sum_k alpha_k A_k)``. Computed this way it
needs no autograd at inference, is identical to the autograd version (tested), and exports to OpenVINO.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.nn.utils.parametrizations import spectral_norm

from xray_anomalib.models.components.blocks import conv_decoder, conv_encoder, to_model_range
from xray_anomalib.models.components.error_maps import ReconstructionScoring
from xray_anomalib.models.components.scoring import ScoreMap, ScoringModel


@dataclass(frozen=True)
class TrainingPhase:
    """One step of a GAN's training iteration: a loss and the networks whose optimisers step on it.

    Attributes:
        name: Logged as ``train_<name>_loss``.
        networks: Attribute names of the networks stepped (each has its own optimiser).
        loss: ``loss(image, hand_mask)`` returning a scalar.
    """

    name: str
    networks: tuple[str, ...]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def feature_side(image_size: int, depth: int) -> int:
    """Side of the feature map after ``depth`` halvings; ``image_size`` must be divisible by ``2 ** depth``."""
    if image_size % 2**depth:
        msg = f"image_size {image_size} must be divisible by 2 ** {depth} = {2**depth}."
        raise ValueError(msg)
    return image_size // 2**depth


def masked_film(image: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
    """Gray film in ``[-1, 1]`` with everything outside the hand set to black (-1), as the GANs see films."""
    return torch.where(hand_mask > 0, to_model_range(image), -1.0)


def latent_encoder(channels: Sequence[int], latent_dim: int, image_size: int) -> nn.Sequential:
    """Encoder from a gray film to a latent vector ``(B, latent_dim)``: conv stages, then one conv over the map."""
    side = feature_side(image_size, len(channels))
    return nn.Sequential(
        conv_encoder(1, channels, channels[-1]),
        nn.Conv2d(channels[-1], latent_dim, side),
        nn.Flatten(),
    )


def latent_generator(latent_dim: int, channels: Sequence[int], image_size: int) -> nn.Sequential:
    """Generator from a latent vector to a gray film in ``[-1, 1]``: projection to a small map, then up-blocks."""
    side = feature_side(image_size, len(channels))
    return nn.Sequential(
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, channels[-1], side, bias=False),
        nn.BatchNorm2d(channels[-1]),
        nn.ReLU(inplace=True),
        conv_decoder(channels[-1], channels),
    )


def code_discriminator(latent_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """MLP with spectral normalisation and LeakyReLU from a latent vector to one logit (alpha-GAN's ``C``)."""
    layers: list[nn.Module] = [nn.Flatten()]
    previous = latent_dim
    for width in hidden:
        layers += [spectral_norm(nn.Linear(previous, width)), nn.LeakyReLU(0.2)]
        previous = width
    layers.append(spectral_norm(nn.Linear(previous, 1)))
    layers.append(nn.Flatten(0))
    return nn.Sequential(*layers)


class ImageDiscriminator(nn.Module):
    """Stride-2 convolutions with spectral normalisation and LeakyReLU, then a linear logit over the last map.

    No BatchNorm: a film's logit never depends on the other films of its batch, in training or evaluation (the
    original DCGAN and alpha-GAN discriminators mixed films of a batch). With ``code_dim`` it is BiGAN's joint
    discriminator: a code branch's features are concatenated with the image features before the head.

    Args:
        channels: Output channels of each stage (each halves the resolution).
        image_size: Side of the square input.
        code_dim: Latent size of a joint ``(x, z)`` discriminator; 0 for an image discriminator.
        code_features: Width of the code branch.
    """

    def __init__(self, channels: Sequence[int], image_size: int, code_dim: int = 0, code_features: int = 256) -> None:
        super().__init__()
        side = feature_side(image_size, len(channels))
        layers: list[nn.Module] = []
        previous = 1
        for width in channels:
            layers += [spectral_norm(nn.Conv2d(previous, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.n_image_features = channels[-1] * side * side
        self.code = (
            nn.Sequential(spectral_norm(nn.Linear(code_dim, code_features)), nn.LeakyReLU(0.2)) if code_dim else None
        )
        self.head = spectral_norm(nn.Linear(self.n_image_features + (code_features if code_dim else 0), 1))

    def forward(self, film: torch.Tensor, code: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logit ``(B,)`` that ``film`` (and ``code``) is real, and the last feature map ``(B, K, h, w)``."""
        features = self.features(film)
        inputs = features.flatten(1)
        if self.code is not None:
            inputs = torch.cat([inputs, self.code(code)], dim=1)
        return self.head(inputs).squeeze(1), features

    def grad_cam(self, logit: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Grad-CAM ``(B, 1, h, w)`` of the anomaly score ``1 - sigmoid(logit)`` on the last feature map."""
        probability = torch.sigmoid(logit)
        weight = cast("torch.Tensor", self.head.weight)[0, : self.n_image_features].reshape(features.shape[1:])
        alpha = -(probability * (1 - probability)).unsqueeze(1) * weight.mean(dim=(1, 2)).unsqueeze(0)
        return F.relu((alpha[:, :, None, None] * features).sum(dim=1, keepdim=True))

    def score_map(self, film: torch.Tensor, hand_mask: torch.Tensor, code: torch.Tensor | None = None) -> ScoreMap:
        """Anomaly score ``1 - D`` per film and its Grad-CAM map, upsampled to the film and zero outside the hand."""
        logit, features = self(film, code)
        cam = F.interpolate(self.grad_cam(logit, features), size=film.shape[-2:], mode="bilinear", align_corners=False)
        return 1 - torch.sigmoid(logit), cam * hand_mask


def adversarial_loss(logit: torch.Tensor, real: bool, smoothing: float = 0.0) -> torch.Tensor:
    """Binary cross-entropy towards "real" (target ``1 - smoothing``, the paper's soft labels) or "fake" (0)."""
    target = torch.full_like(logit, 1.0 - smoothing if real else 0.0)
    return F.binary_cross_entropy_with_logits(logit, target)


class AdversarialModel(ScoringModel):
    """A torch model trained adversarially, phase by phase (DCGAN, BiGAN, alpha-GAN).

    Attributes:
        networks: Attribute names of its networks, each with its own optimiser.
    """

    networks: tuple[str, ...] = ()

    @abstractmethod
    def training_phases(self) -> list[TrainingPhase]:
        """The phases of one training iteration, in order."""


class EncoderGeneratorModel(AdversarialModel):
    """A GAN with an encoder ``E`` and a generator ``G`` whose ``G(E(x))`` reconstructs the film (BiGAN, alpha-GAN).

    The subclass adds its discriminators. Its reconstruction scores (``mse``, ``l1``, ``topk``) are those of
    ``G(E(x))`` over the hand, with their error maps (:meth:`encode_and_score`).

    Args:
        score_names: Every score the model computes, its main score first.
        channels: Encoder stages (the generator mirrors them).
        latent_dim: Size of the code ``z``.
        image_size: Side of the square films.
        label_smoothing: Soft label of real films (or pairs) for the discriminators.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        **selection: ``score``, ``combine`` and ``combine_method`` of :class:`ScoringModel`.
    """

    def __init__(
        self,
        score_names: Sequence[str],
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        latent_dim: int = 100,
        image_size: int = 128,
        label_smoothing: float = 0.1,
        top_k: int = 200,
        mask_margin: int = 0,
        **selection: Any,
    ) -> None:
        super().__init__(score_names, **selection)
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.reconstruction_scores = ReconstructionScoring(top_k, mask_margin)
        self.encoder = latent_encoder(channels, latent_dim, image_size)
        self.generator = latent_generator(latent_dim, channels, image_size)

    def encode_and_score(
        self, image: torch.Tensor, hand_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, ScoreMap]]:
        """The masked film, its code ``E(x)`` and the reconstruction scores of ``G(E(x))`` with their maps."""
        film = masked_film(image, hand_mask)
        code = self.encoder(film)
        return film, code, self.reconstruction_scores(film, self.generator(code), hand_mask)

"""Lightning module of the BiGAN / ALI of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.bigan import Bigan
    >>> model = Bigan(channels=[16, 32, 64], discriminator_channels=[16, 32], image_size=64, score="mse")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.adversarial_module import AdversarialModule

from .torch_model import BiganModel


class Bigan(AdversarialModule):
    """BiGAN trained on normal films; scores ``1 - D(x, E(x))`` (Grad-CAM map) or reconstruction errors of ``G(E(x))``.

    Args:
        channels: Encoder stages (the generator mirrors them).
        discriminator_channels: Stages of the discriminator's image branch.
        latent_dim: Size of ``z`` (the paper: 100).
        image_size: Side of the square input (the paper: 128).
        label_smoothing: Soft label of real pairs for the discriminator.
        score: ``discriminator``, ``mse``, ``l1``, ``topk`` or ``combined``.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        combine: Scores combined when ``score`` is ``combined``, e.g. ``[discriminator, mse]``.
        combine_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
        lr_encoder: Adam learning rate of the encoder (the paper: 1e-3).
        lr_generator: Adam learning rate of the generator (the paper: 1e-3).
        lr_discriminator: Adam learning rate of the discriminator (the paper: 5e-6).
        beta1: Adam's first momentum coefficient.
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        latent_dim: int = 100,
        image_size: int = 128,
        label_smoothing: float = 0.1,
        score: str = "discriminator",
        top_k: int = 200,
        mask_margin: int = 0,
        combine: Sequence[str] = (),
        combine_method: str = "rank",
        lr_encoder: float = 2e-4,
        lr_generator: float = 2e-4,
        lr_discriminator: float = 2e-4,
        beta1: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            image_size,
            max(len(channels), len(discriminator_channels)),
            {"encoder": lr_encoder, "generator": lr_generator, "discriminator": lr_discriminator},
            beta1,
            **kwargs,
        )
        with self.seeded():
            self.model = BiganModel(**self.torch_model_arguments(BiganModel))

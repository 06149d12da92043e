"""Lightning module of the alpha-GAN of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.alphagan import AlphaGan
    >>> model = AlphaGan(channels=[16, 32, 64], discriminator_channels=[16, 32], image_size=64)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.adversarial_module import AdversarialModule

from .torch_model import AlphaGanModel


class AlphaGan(AdversarialModule):
    """alpha-GAN trained on normal films; image/code discriminator scores (Grad-CAM maps) and reconstruction scores.

    Args:
        channels: Encoder stages (the generator mirrors them).
        discriminator_channels: Image discriminator stages.
        code_hidden: Hidden widths of the code discriminator (the paper: 50, 25).
        latent_dim: Size of ``z`` (the paper: 100).
        image_size: Side of the square input (the paper: 128).
        reconstruction_weight: Weight of the L1 reconstruction loss (the paper: 0.01).
        label_smoothing: Soft label of real films and prior codes.
        score: ``discriminator``, ``code_discriminator``, ``discriminator_mean``, ``mse``, ``l1``, ``topk`` or
            ``combined``.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        combine: Scores combined when ``score`` is ``combined``, e.g. ``[discriminator, topk]``.
        combine_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
        lr_encoder: Adam learning rate of the encoder (the paper: 1e-3).
        lr_generator: Adam learning rate of the generator (the paper: 1e-3).
        lr_discriminator: Adam learning rate of the image discriminator (the paper: 1e-4).
        lr_code_discriminator: Adam learning rate of the code discriminator (the paper: 1e-6).
        beta1: Adam's first momentum coefficient.
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        code_hidden: Sequence[int] = (50, 25),
        latent_dim: int = 100,
        image_size: int = 128,
        reconstruction_weight: float = 1.0,
        label_smoothing: float = 0.1,
        score: str = "discriminator",
        top_k: int = 200,
        mask_margin: int = 0,
        combine: Sequence[str] = (),
        combine_method: str = "rank",
        lr_encoder: float = 2e-4,
        lr_generator: float = 2e-4,
        lr_discriminator: float = 2e-4,
        lr_code_discriminator: float = 2e-4,
        beta1: float = 0.5,
        **kwargs: Any,
    ) -> None:
        learning_rates = {
            "encoder": lr_encoder,
            "generator": lr_generator,
            "discriminator": lr_discriminator,
            "code_discriminator": lr_code_discriminator,
        }
        depth = max(len(channels), len(discriminator_channels))
        super().__init__(image_size, depth, learning_rates, beta1, **kwargs)
        with self.seeded():
            self.model = AlphaGanModel(**self.torch_model_arguments(AlphaGanModel))

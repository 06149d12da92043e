"""Lightning module of the alpha-GAN of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.alphagan import AlphaGan
    >>> model = AlphaGan(channels=[16, 32, 64], discriminator_channels=[16, 32], image_size=64)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.adversarial_module import EncoderGeneratorModule

from .torch_model import AlphaGanModel


class AlphaGan(EncoderGeneratorModule):
    """alpha-GAN trained on normal films; image/code discriminator scores (Grad-CAM maps) and reconstruction scores.

    The paper's learning rates: encoder and generator 1e-3, image discriminator 1e-4, code discriminator 1e-6.

    Args:
        code_hidden: Hidden widths of the code discriminator (the paper: 50, 25).
        reconstruction_weight: Weight of the L1 reconstruction loss (the paper: 0.01).
        score: ``discriminator``, ``code_discriminator``, ``discriminator_mean``, ``mse``, ``l1``, ``topk`` or
            ``combined``.
        lr_code_discriminator: Adam learning rate of the code discriminator (the paper: 1e-6).
        **kwargs: ``top_k``, ``mask_margin``, ``lr_encoder``, ``lr_generator`` and ``lr_discriminator`` of
            :class:`~xray_anomalib.models.components.adversarial_module.EncoderGeneratorModule`; ``channels``,
            ``discriminator_channels``, ``latent_dim`` (the paper: 100), ``image_size`` (the paper: 128),
            ``label_smoothing`` and ``beta1`` of its base; the score combination and the components.
    """

    def __init__(
        self,
        code_hidden: Sequence[int] = (50, 25),
        reconstruction_weight: float = 1.0,
        score: str = "discriminator",
        lr_code_discriminator: float = 2e-4,
        **kwargs: Any,
    ) -> None:
        super().__init__(score, {"code_discriminator": lr_code_discriminator}, **kwargs)
        with self.seeded():
            self.model = AlphaGanModel(**self.torch_model_arguments(AlphaGanModel))

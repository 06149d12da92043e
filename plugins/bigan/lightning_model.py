"""Lightning module of the BiGAN / ALI of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.bigan import Bigan
    >>> model = Bigan(channels=[16, 32, 64], discriminator_channels=[16, 32], image_size=64, score="mse")
"""

from __future__ import annotations

from typing import Any

from xray_anomalib.models.components.adversarial_module import EncoderGeneratorModule

from .torch_model import BiganModel


class Bigan(EncoderGeneratorModule):
    """BiGAN trained on normal films; scores ``1 - D(x, E(x))`` (Grad-CAM map) or reconstruction errors of ``G(E(x))``.

    The paper's learning rates: encoder and generator 1e-3, discriminator 5e-6.

    Args:
        score: ``discriminator``, ``mse``, ``l1``, ``topk`` or ``combined``.
        **kwargs: ``top_k``, ``mask_margin``, ``lr_encoder``, ``lr_generator`` and ``lr_discriminator`` of
            :class:`~xray_anomalib.models.components.adversarial_module.EncoderGeneratorModule`; ``channels``,
            ``discriminator_channels``, ``latent_dim`` (the paper: 100), ``image_size`` (the paper: 128),
            ``label_smoothing`` and ``beta1`` of its base; the score combination and the components.
    """

    def __init__(self, score: str = "discriminator", **kwargs: Any) -> None:
        super().__init__(score, {}, **kwargs)
        with self.seeded():
            self.model = BiganModel(**self.torch_model_arguments(BiganModel))

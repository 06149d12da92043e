"""Lightning module of the DCGAN of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.dcgan import Dcgan
    >>> model = Dcgan(channels=[16, 32, 64], discriminator_channels=[16, 32], image_size=64)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.adversarial_module import AdversarialModule

from .torch_model import DcganModel


class Dcgan(AdversarialModule):
    """DCGAN trained on normal films; a film's score is ``1 - D(x)``, its heatmap the discriminator's Grad-CAM.

    Args:
        channels: Generator stages (each doubles the resolution on the way up).
        discriminator_channels: Discriminator stages (each halves the resolution).
        latent_dim: Size of the noise vector.
        image_size: Side of the square input; divisible by 2 to the number of stages of either network.
        label_smoothing: Soft label of real films for the discriminator.
        lr_generator: Adam learning rate of the generator (the paper: 1e-3).
        lr_discriminator: Adam learning rate of the discriminator (the paper: 1e-5).
        beta1: Adam's first momentum coefficient (the paper: 0.5).
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        latent_dim: int = 128,
        image_size: int = 128,
        label_smoothing: float = 0.1,
        lr_generator: float = 2e-4,
        lr_discriminator: float = 2e-4,
        beta1: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            image_size,
            max(len(channels), len(discriminator_channels)),
            {"generator": lr_generator, "discriminator": lr_discriminator},
            beta1,
            **kwargs,
        )
        with self.seeded():
            self.model = DcganModel(**self.torch_model_arguments(DcganModel))

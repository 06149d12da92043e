"""Lightning module of the DCGAN of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.dcgan import Dcgan
    >>> model = Dcgan(channels=[16, 32, 64], discriminator_channels=[16, 32], image_size=64)
"""

from __future__ import annotations

from typing import Any

from xray_anomalib.models.components.adversarial_module import AdversarialModule

from .torch_model import DcganModel


class Dcgan(AdversarialModule):
    """DCGAN trained on normal films; a film's score is ``1 - D(x)``, its heatmap the discriminator's Grad-CAM.

    Args:
        latent_dim: Size of the noise vector.
        score: ``discriminator``, its only score.
        lr_generator: Adam learning rate of the generator (the paper: 1e-3).
        lr_discriminator: Adam learning rate of the discriminator (the paper: 1e-5).
        **kwargs: ``channels``, ``discriminator_channels``, ``image_size`` (the paper: 128), ``label_smoothing`` and
            ``beta1`` (the paper: 0.5) of :class:`~xray_anomalib.models.components.adversarial_module.AdversarialModule`
            and the components of its bases.
    """

    def __init__(
        self,
        latent_dim: int = 128,
        score: str = "discriminator",
        lr_generator: float = 2e-4,
        lr_discriminator: float = 2e-4,
        **kwargs: Any,
    ) -> None:
        learning_rates = {"generator": lr_generator, "discriminator": lr_discriminator}
        super().__init__(learning_rates, score, latent_dim=latent_dim, **kwargs)
        with self.seeded():
            self.model = DcganModel(**self.torch_model_arguments(DcganModel))

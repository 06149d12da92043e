"""Lightning module of the variational autoencoder (VAE) of Davletshina et al. (2020).

Example:
    >>> from xray_anomalib_plugins.vae import Vae
    >>> model = Vae(channels=[16, 32, 64], image_size=128, score="kld")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.reconstruction import ReconstructionModule

from .torch_model import VaeModel


class Vae(ReconstructionModule):
    """Variational autoencoder: masked reconstruction plus KL, deterministic scores at evaluation.

    Args:
        channels: Output channels of each encoder stage (each halves the resolution).
        latent_channels: Channels of the spatial latent.
        kl_weight: Weight of the KL term (in the loss and the ``mse_kld`` score).
        score: ``mse``, ``l1``, ``topk``, ``kld``, ``mse_kld`` or ``combined``.
        **kwargs: ``image_size`` (divisible by ``2 ** len(channels)``), ``top_k``, ``mask_margin`` and ``lr`` (the
            paper: 5e-5) of :class:`~xray_anomalib.models.components.reconstruction.ReconstructionModule`, the score
            combination and the components of its bases.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        latent_channels: int = 64,
        kl_weight: float = 1e-3,
        score: str = "mse",
        **kwargs: Any,
    ) -> None:
        super().__init__(len(channels), score, **kwargs)
        with self.seeded():
            self.model = VaeModel(**self.torch_model_arguments(VaeModel))

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
        image_size: Side of the square input; must be divisible by ``2 ** len(channels)``.
        score: ``mse``, ``l1``, ``topk``, ``kld``, ``mse_kld`` or ``combined``.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        combine: Scores combined when ``score`` is ``combined``, e.g. ``[topk, kld]``.
        combine_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
        lr: Adam learning rate (the paper: 5e-5).
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        latent_channels: int = 64,
        kl_weight: float = 1e-3,
        image_size: int = 256,
        score: str = "mse",
        top_k: int = 200,
        mask_margin: int = 0,
        combine: Sequence[str] = (),
        combine_method: str = "rank",
        lr: float = 1e-4,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, len(channels), lr, **kwargs)
        with self.seeded():
            self.model = VaeModel(**self.torch_model_arguments(VaeModel))

"""Lightning module of the convolutional autoencoder (CAE) of Davletshina et al. (2020).

Example:
    >>> from anomalib.engine import Engine
    >>> from xray_anomalib.data import Mura
    >>> from xray_anomalib_plugins.cae import Cae
    >>> model = Cae(channels=[16, 32, 64], image_size=128, score="topk")
    >>> Engine(max_epochs=5).fit(model, datamodule=Mura(image_size=128))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xray_anomalib.models.components.reconstruction import ReconstructionModule

from .torch_model import CaeModel


class Cae(ReconstructionModule):
    """Convolutional autoencoder trained with the masked reconstruction loss on normal films.

    Args:
        channels: Output channels of each encoder stage (each halves the resolution).
        bottleneck_channels: Channels of the spatial bottleneck.
        score: Image score: ``mse``, ``l1``, ``topk`` or ``combined``.
        **kwargs: ``image_size`` (divisible by ``2 ** len(channels)``), ``top_k`` (the paper: 200), ``mask_margin``
            and ``lr`` (the paper: 1e-4) of
            :class:`~xray_anomalib.models.components.reconstruction.ReconstructionModule`, the score combination and
            the components of its bases.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        bottleneck_channels: int = 512,
        score: str = "mse",
        **kwargs: Any,
    ) -> None:
        super().__init__(len(channels), score, **kwargs)
        with self.seeded():
            self.model = CaeModel(**self.torch_model_arguments(CaeModel))

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
        image_size: Side of the square input; must be divisible by ``2 ** len(channels)``.
        score: Image score: ``mse``, ``l1``, ``topk`` or ``combined``.
        top_k: Pixels averaged by the ``topk`` score (the paper: 200).
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        combine: Scores combined when ``score`` is ``combined``, e.g. ``[mse, topk]``.
        combine_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
        lr: Adam learning rate (the paper: 1e-4).
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        bottleneck_channels: int = 512,
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
            self.model = CaeModel(**self.torch_model_arguments(CaeModel))

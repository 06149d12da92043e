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

from anomalib.metrics import Evaluator
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.components.reconstruction import ReconstructionModule

from .torch_model import CaeModel


class Cae(ReconstructionModule):
    """Convolutional autoencoder trained with the masked reconstruction loss on normal films.

    Args:
        channels: Output channels of each encoder stage (each halves the resolution).
        bottleneck_channels: Channels of the spatial bottleneck.
        image_size: Side of the square input; must be divisible by ``2 ** len(channels)``.
        score: Image score: ``mse``, ``l1``, ``topk`` or ``ensemble``.
        top_k: Pixels averaged by the ``topk`` score (the paper: 200).
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        ensemble: Scores combined when ``score`` is ``ensemble``, e.g. ``[mse, topk]``.
        ensemble_method: ``rank`` or ``zscore`` (standardised on the normal validation films).
        lr: Adam learning rate (the paper: 1e-4).
        pre_processor: Pre-processor, or ``True`` for the default (resize only).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray metrics (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the initial weights and the data order (see :class:`XrayAnomalyModule`).
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        bottleneck_channels: int = 512,
        image_size: int = 256,
        score: str = "mse",
        top_k: int = 200,
        mask_margin: int = 0,
        ensemble: Sequence[str] = (),
        ensemble_method: str = "rank",
        lr: float = 1e-4,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        super().__init__(image_size, len(channels), lr, pre_processor, post_processor, evaluator, visualizer, seed=seed)
        self.save_hyperparameters(ignore=["pre_processor", "post_processor", "evaluator", "visualizer"])
        self.model = CaeModel(
            channels=channels,
            bottleneck_channels=bottleneck_channels,
            score=score,
            top_k=top_k,
            mask_margin=mask_margin,
            ensemble=ensemble,
            ensemble_method=ensemble_method,
        )

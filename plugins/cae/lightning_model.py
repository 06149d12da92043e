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

import torch
from anomalib.data import Batch
from anomalib.metrics import Evaluator
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from lightning.pytorch.utilities.types import STEP_OUTPUT

from xray_anomalib.components import ReconstructionScore, XrayAnomalyModule, masked_reconstruction_loss

from .torch_model import CaeModel


class Cae(XrayAnomalyModule):
    """Convolutional autoencoder trained with the masked reconstruction loss on normal films.

    Args:
        channels: Output channels of each encoder stage (each halves the resolution).
        bottleneck_channels: Channels of the spatial bottleneck.
        image_size: Side of the square input; must be divisible by ``2 ** len(channels)``.
        score: Image score: ``mse``, ``l1`` or ``topk``.
        top_k: Pixels averaged by the ``topk`` score (the paper: 200).
        lr: Adam learning rate (the paper: 1e-4).
        pre_processor: Pre-processor, or ``True`` for the default (resize only).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for anomalib's default metrics.
        visualizer: Visualizer, or ``True`` for anomalib's default.

    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        bottleneck_channels: int = 512,
        image_size: int = 256,
        score: ReconstructionScore | str = ReconstructionScore.MSE,
        top_k: int = 200,
        lr: float = 1e-4,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
    ) -> None:
        factor = 2 ** len(channels)
        if image_size % factor:
            msg = f"image_size {image_size} must be divisible by 2 ** len(channels) = {factor}."
            raise ValueError(msg)
        if pre_processor is True:
            pre_processor = self.configure_pre_processor((image_size, image_size))
        super().__init__(
            pre_processor=pre_processor,
            post_processor=post_processor,
            evaluator=evaluator,
            visualizer=visualizer,
        )
        self.save_hyperparameters(ignore=["pre_processor", "post_processor", "evaluator", "visualizer"])
        self.lr = lr
        self.model = CaeModel(channels=channels, bottleneck_channels=bottleneck_channels, score=score, top_k=top_k)

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Masked reconstruction loss over the hand pixels."""
        del args, kwargs
        target, reconstruction = self.model.reconstruct(batch.image)
        mask = self.hand_mask_of(batch)
        loss = masked_reconstruction_loss(target, reconstruction, torch.ones_like(target) if mask is None else mask)
        self.log("train_loss", loss, on_epoch=True, prog_bar=True, logger=True, batch_size=batch.image.shape[0])
        return {"loss": loss}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as in the paper."""
        return torch.optim.Adam(self.model.parameters(), lr=self.lr)

"""Lightning module of BlendSeg: self-supervised segmentation of patches blended in from other normal films.

Example:
    >>> from anomalib.engine import Engine
    >>> from xray_anomalib.data import FracAtlas
    >>> from xray_anomalib_plugins.blendseg import BlendSeg
    >>> model = BlendSeg(image_size=256)
    >>> Engine(max_epochs=30).fit(model, datamodule=FracAtlas(root="datasets/FracAtlas"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from anomalib.data import Batch
from lightning.pytorch.utilities.types import STEP_OUTPUT

from xray_anomalib.models.components.scoring_module import ScoringModule

from .synthesis import PatchBlender
from .torch_model import BlendSegModel


class BlendSeg(ScoringModule):
    """Self-supervised U-Net trained from scratch to segment patches of other normal films blended into a film.

    Every training batch is normal films only; :class:`~.synthesis.PatchBlender` Poisson-blends a patch of another
    film of the batch into some of them, and the U-Net learns where. At test time its probability map is the
    heatmap and its top-k mean the image score.

    Args:
        channels: U-Net stage channels, finest first (``len(channels)`` halvings, the first by the stem).
        image_size: Side of the square input; must be divisible by ``2 ** len(channels)``.
        score: ``segmentation`` (top-k mean of the map), ``segmentation_mean`` or ``combined``.
        top_k: Pixels averaged by the ``segmentation`` score.
        anomaly_probability: Share of training films that get a blended patch.
        patch_size: Patch height and width range, as fractions of the film's side.
        patch_scale: Range of the source region's size relative to the patch it fills.
        label_threshold: Change (films in ``[0, 1]``) from which a blended pixel is labelled anomalous.
        lr: Adam learning rate.
        **kwargs: ``combine`` and ``combine_method`` of
            :class:`~xray_anomalib.models.components.scoring_module.ScoringModule` and the components of its base.
    """

    model: BlendSegModel

    def __init__(
        self,
        channels: Sequence[int] = (8, 16, 32, 64, 128),
        image_size: int = 256,
        score: str = "segmentation",
        top_k: int = 100,
        anomaly_probability: float = 0.5,
        patch_size: Sequence[float] = (0.06, 0.3),
        patch_scale: Sequence[float] = (0.7, 1.4),
        label_threshold: float = 0.02,
        lr: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, len(channels), score, **kwargs)
        self.lr = lr
        self.blender = PatchBlender(
            anomaly_probability, (patch_size[0], patch_size[1]), (patch_scale[0], patch_scale[1]), label_threshold
        )
        with self.seeded():
            self.model = BlendSegModel(**self.torch_model_arguments(BlendSegModel))

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Blend patches into the batch's normal films and learn to segment them over the body."""
        del args, kwargs
        image, mask = self.films_and_masks_of(batch)
        seed = int(torch.randint(2**31 - 1, (1,)).item())  # drawn from the fit's seeded random state
        blended, labels = self.blender(image.mean(dim=1, keepdim=True), mask, seed)
        return self.log_losses(self.model.loss(blended, labels, mask), image.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam over the U-Net."""
        return torch.optim.Adam(self.model.parameters(), lr=self.lr)

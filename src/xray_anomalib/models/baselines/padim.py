"""anomalib's PaDiM on X-ray films: Gaussians of pretrained patch features, gathered across processes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from anomalib.metrics import Evaluator
from anomalib.models import Padim as AnomalibPadim
from anomalib.visualization import Visualizer
from torch import nn

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction
from xray_anomalib.utils.distributed import gather_across_processes


class Padim(XrayBaselineMixin, AnomalibPadim):
    """anomalib's PaDiM, with an optional local ``backbone_weights`` file and fixed-size export.

    Args:
        backbone: timm backbone name.
        layers: Backbone layers whose features are modelled.
        pre_trained: ImageNet weights: the packaged ones where a package ships them (``tf_efficientnet_lite0``),
            else downloaded (needs a network; use ``backbone_weights`` without one).
        n_features: Features kept after random selection (anomalib's default per backbone when ``None``).
        score_in_body: Score a film by its map's peak over the body (the forward and export then take the hand
            mask) instead of anomalib's score over the whole square
            (:mod:`~xray_anomalib.models.components.body_score`).
        mask_margin: With ``score_in_body``, pixels along the body's outline and the image border left out.
        backbone_weights: Local weights file of ``backbone``.
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random feature selection, of a random backbone's weights and of the fit (anomalib's CLI
            reads ``seed_everything`` but does not apply it); the caller's random state is left as it was.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        layers: Sequence[str] = ("layer1", "layer2", "layer3"),
        pre_trained: bool = True,
        n_features: int | None = None,
        score_in_body: bool = False,
        mask_margin: int = 0,
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: nn.Module | bool = True,
        post_processor: nn.Module | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        with baseline_construction(backbone, pre_trained, backbone_weights, seed) as pretrained:
            super().__init__(
                backbone=backbone,
                layers=list(layers),
                pre_trained=pretrained,
                n_features=n_features,
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        self.restrict_to_body(score_in_body, mask_margin)

    def fit(self) -> None:
        """Fit the Gaussians to the training features of every process."""
        self.model.memory_bank = [gather_across_processes(self, torch.vstack(self.model.memory_bank))]
        super().fit()

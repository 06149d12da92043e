"""anomalib's DFM on X-ray films: a PCA of pretrained features, the reconstruction error as map."""

from __future__ import annotations

from pathlib import Path

import torch
from anomalib.metrics import Evaluator
from anomalib.models import Dfm as AnomalibDfm
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction
from xray_anomalib.utils.distributed import gather_across_processes


class Dfm(XrayBaselineMixin, AnomalibDfm):
    """anomalib's DFM: a PCA of pretrained features of normal films, the feature reconstruction error as map.

    Args:
        backbone: timm backbone name.
        layer: The backbone layer whose features are modelled.
        pre_trained: ImageNet weights: the packaged ones where a package ships them (``tf_efficientnet_lite0``),
            else downloaded (needs a network; use ``backbone_weights`` without one).
        pooling_kernel_size: Average pooling of the features before the PCA.
        pca_level: Share of the variance the PCA keeps.
        score_type: ``fre`` (feature reconstruction error, with a map) or ``nll`` (Gaussian likelihood, no map).
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
        seed: Seed of a random backbone's weights and of the fit; the caller's random state is left as it was.
    """

    static_batch = True  # its dynamic-batch export is fixed to the traced batch, as PatchCore's

    def __init__(
        self,
        backbone: str = "tf_efficientnet_lite0",
        layer: str = "blocks.4",
        pre_trained: bool = True,
        pooling_kernel_size: int = 4,
        pca_level: float = 0.97,
        score_type: str = "fre",
        score_in_body: bool = False,
        mask_margin: int = 0,
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        with baseline_construction(backbone, pre_trained, backbone_weights, seed) as pretrained:
            super().__init__(
                backbone=backbone,
                layer=layer,
                pre_trained=pretrained,
                pooling_kernel_size=pooling_kernel_size,
                pca_level=pca_level,
                score_type=score_type,
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        self.restrict_to_body(score_in_body, mask_margin)

    def fit(self) -> None:
        """Fit the PCA to the training features of every process."""
        self.model.memory_bank = [gather_across_processes(self, torch.vstack(self.model.memory_bank))]
        super().fit()

"""anomalib's SuperSimpleNet on X-ray films: pretrained features, synthetic feature-space anomalies, a segmenter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

from anomalib.metrics import Evaluator
from anomalib.models import Supersimplenet as AnomalibSupersimplenet
from anomalib.models.components import TimmFeatureExtractor
from anomalib.models.image.supersimplenet.torch_model import UpscalingFeatureExtractor
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction

MIN_FEATURE_SIDE = 32
"""anomalib's Perlin noise generator fails on feature maps smaller than this."""


class Supersimplenet(XrayBaselineMixin, AnomalibSupersimplenet):
    """anomalib's SuperSimpleNet, unsupervised: Perlin-shaped Gaussian noise on adapted pretrained features.

    The feature extractor is always pretrained: the packaged ImageNet weights of ``tf_efficientnet_lite0`` (the
    default), a ``backbone_weights`` file, or a download.

    Args:
        perlin_threshold: Threshold of the Perlin noise that shapes the synthetic anomalies.
        backbone: timm backbone name.
        layers: Layers whose upscaled features are adapted (the lite0 default: its stride-8 and 16 stages).
        backbone_weights: Local weights file of ``backbone`` (any timm state dict of that architecture).
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random weights and of the fit; the caller's random state is left as it was.
    """

    static_batch = True  # one film at a time, as PatchCore and DFM export (a dynamic batch was not tried)

    def __init__(
        self,
        perlin_threshold: float = 0.2,
        backbone: str = "tf_efficientnet_lite0",
        layers: Sequence[str] = ("blocks.2", "blocks.4"),
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        with baseline_construction(backbone, True, backbone_weights, seed):
            super().__init__(
                perlin_threshold=perlin_threshold,
                backbone=backbone,
                layers=list(layers),
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        self._check_feature_size()

    def _check_feature_size(self) -> None:
        """Refuse inputs whose feature map is too small for anomalib's Perlin noise (it fails at random below 32)."""
        if self.input_size is None:
            return
        upscaling = cast("UpscalingFeatureExtractor", self.model.feature_extractor)
        extractor = cast("TimmFeatureExtractor", upscaling.feature_extractor)
        side = 2 * self.input_size[0] // min(extractor.reductions)
        if side < MIN_FEATURE_SIDE:
            msg = (
                f"SuperSimpleNet needs an upscaled feature map of at least {MIN_FEATURE_SIDE} px for its Perlin "
                f"anomalies; layer {extractor.layers[0]} of {extractor.backbone} at image size {self.input_size[0]} "
                f"gives {side}. Use a larger image_size or an earlier first layer."
            )
            raise ValueError(msg)

"""anomalib's Reverse Distillation on X-ray films: a decoder rebuilds a pretrained ResNet's features."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anomalib.metrics import Evaluator
from anomalib.models import ReverseDistillation as AnomalibReverseDistillation
from anomalib.models.image.reverse_distillation.anomaly_map import AnomalyMapGenerationMode
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction


class ReverseDistillation(XrayBaselineMixin, AnomalibReverseDistillation):
    """anomalib's Reverse Distillation: a one-class bottleneck and a student decoder rebuild the encoder's features.

    anomalib's decoder mirrors a ResNet (``resnet18``, ``resnet34``, ``resnet50``, ``wide_resnet50_2``...); no
    package ships their ImageNet weights, so offline it takes a ``backbone_weights`` file or runs with
    ``pre_trained: false``.

    Args:
        backbone: timm name of a ResNet encoder.
        layers: Encoder layers the decoder rebuilds.
        anomaly_map_mode: ``add`` or ``multiply`` the layers' maps.
        pre_trained: ImageNet weights: from ``backbone_weights`` when given, else downloaded (needs a network).
        backbone_weights: Local weights file of ``backbone`` (any timm state dict of that architecture).
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random weights and of the fit; the caller's random state is left as it was.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        layers: Sequence[str] = ("layer1", "layer2", "layer3"),
        anomaly_map_mode: AnomalyMapGenerationMode | str = AnomalyMapGenerationMode.ADD,
        pre_trained: bool = True,
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
                layers=list(layers),
                anomaly_map_mode=AnomalyMapGenerationMode(anomaly_map_mode),
                pre_trained=pretrained,
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed

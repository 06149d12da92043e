"""anomalib's FastFlow on X-ray films: normalising flows over the features of a ResNet."""

from __future__ import annotations

from pathlib import Path

from anomalib.metrics import Evaluator
from anomalib.models import Fastflow as AnomalibFastflow
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction


class Fastflow(XrayBaselineMixin, AnomalibFastflow):
    """anomalib's FastFlow: 2D normalising flows on backbone features; the map is the features' negative likelihood.

    anomalib builds it on ``resnet18`` or ``wide_resnet50_2`` only (and two vision transformers); no package ships
    their ImageNet weights, so offline it takes a ``backbone_weights`` file or runs with ``pre_trained: false``.

    Args:
        backbone: ``resnet18`` or ``wide_resnet50_2``.
        pre_trained: ImageNet weights: from ``backbone_weights`` when given, else downloaded (needs a network).
        flow_steps: Flow steps per feature level.
        conv3x3_only: Only 3x3 convolutions in the flow's subnetworks.
        hidden_ratio: Hidden channels of the subnetworks, relative to their input.
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
        pre_trained: bool = True,
        flow_steps: int = 8,
        conv3x3_only: bool = False,
        hidden_ratio: float = 1.0,
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
                pre_trained=pretrained,
                flow_steps=flow_steps,
                conv3x3_only=conv3x3_only,
                hidden_ratio=hidden_ratio,
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed

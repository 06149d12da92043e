"""anomalib's FastFlow on X-ray films: normalising flows over the features of a pretrained CNN."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast
from unittest import mock

import timm
from anomalib.metrics import Evaluator
from anomalib.models import Fastflow as AnomalibFastflow
from anomalib.models.image.fastflow import lightning_model
from anomalib.models.image.fastflow.anomaly_map import AnomalyMapGenerator
from anomalib.models.image.fastflow.torch_model import FastflowModel, create_fast_flow_block
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from timm.models import FeatureInfo
from torch import nn

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction

ANOMALIB_BACKBONES = frozenset({"resnet18", "wide_resnet50_2", "cait_m48_448", "deit_base_distilled_patch16_384"})
"""The backbones anomalib builds FastFlow on itself."""
FEATURE_STAGES = (1, 2, 3)
"""The feature stages a CNN's flows read: strides 4, 8 and 16 (those anomalib takes from its ResNets)."""


class CnnFastflowModel(FastflowModel):
    """anomalib's FastFlow torch model, also on the stride-4, 8 and 16 stages of any other timm CNN.

    anomalib builds it on two ResNets and two vision transformers only. For any other timm CNN (the packaged
    EfficientNet-Lite0, say) the features, their trainable layer norms and the flows are built as anomalib builds
    them on a ResNet; the forward pass, the loss and the anomaly map are anomalib's.

    Args:
        input_size: Side lengths of the model's input.
        backbone: timm name of the backbone.
        pre_trained: Whether the backbone is made with pretrained weights.
        flow_steps: Flow steps per feature stage.
        conv3x3_only: Only 3x3 convolutions in the flow's subnetworks.
        hidden_ratio: Hidden channels of the subnetworks, relative to their input.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        backbone: str,
        pre_trained: bool = True,
        flow_steps: int = 8,
        conv3x3_only: bool = False,
        hidden_ratio: float = 1.0,
    ) -> None:
        if backbone in ANOMALIB_BACKBONES:
            super().__init__(input_size, backbone, pre_trained, flow_steps, conv3x3_only, hidden_ratio)
            return
        nn.Module.__init__(self)  # anomalib's constructor refuses the backbone; its parts are built here instead
        self.input_size = input_size
        self.feature_extractor = timm.create_model(
            backbone, pretrained=pre_trained, features_only=True, out_indices=FEATURE_STAGES
        )
        self.feature_extractor.requires_grad_(False)
        info = cast(FeatureInfo, self.feature_extractor.feature_info)
        shapes = [
            [channels, input_size[0] // stride, input_size[1] // stride]
            for channels, stride in zip(info.channels(), info.reduction(), strict=True)
        ]
        self.norms = nn.ModuleList(nn.LayerNorm(shape, elementwise_affine=True) for shape in shapes)
        self.fast_flow_blocks = nn.ModuleList(
            create_fast_flow_block(
                input_dimensions=shape, conv3x3_only=conv3x3_only, hidden_ratio=hidden_ratio, flow_steps=flow_steps
            )
            for shape in shapes
        )
        self.anomaly_map_generator = AnomalyMapGenerator(input_size=input_size)


@contextmanager
def any_cnn_backbone() -> Iterator[None]:
    """While open, anomalib's FastFlow module builds :class:`CnnFastflowModel` (any timm CNN) as its torch model."""
    with mock.patch.object(lightning_model, "FastflowModel", CnnFastflowModel):
        yield


class Fastflow(XrayBaselineMixin, AnomalibFastflow):
    """anomalib's FastFlow: 2D normalising flows on backbone features; the map is the features' negative likelihood.

    anomalib builds it on ``resnet18`` or ``wide_resnet50_2`` (and two vision transformers); here any timm CNN
    serves too (:class:`CnnFastflowModel`), the packaged ImageNet EfficientNet-Lite0 (``tf_efficientnet_lite0``)
    offline among them. No package ships ResNet ImageNet weights: a ResNet takes a ``backbone_weights`` file or runs
    with ``pre_trained: false``.

    Args:
        backbone: timm name of a CNN, ``resnet18`` (anomalib's default) or ``tf_efficientnet_lite0`` for instance.
        pre_trained: ImageNet weights: from ``backbone_weights`` when given, else the packaged ones, else
            downloaded (needs a network).
        flow_steps: Flow steps per feature stage.
        conv3x3_only: Only 3x3 convolutions in the flow's subnetworks.
        hidden_ratio: Hidden channels of the subnetworks, relative to their input.
        score_in_body: Score a film by its map's peak over the body (the forward and export then take the hand
            mask) instead of anomalib's score over the whole square
            (:mod:`~xray_anomalib.models.components.body_score`).
        mask_margin: With ``score_in_body``, pixels along the body's outline and the image border left out.
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
        with baseline_construction(backbone, pre_trained, backbone_weights, seed) as pretrained, any_cnn_backbone():
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
        self.restrict_to_body(score_in_body, mask_margin)

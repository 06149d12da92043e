"""anomalib's Reverse Distillation on X-ray films: a student decoder rebuilds a pretrained CNN's features."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from unittest import mock

from anomalib.metrics import Evaluator
from anomalib.models import ReverseDistillation as AnomalibReverseDistillation
from anomalib.models.components import TimmFeatureExtractor
from anomalib.models.image.reverse_distillation import lightning_model
from anomalib.models.image.reverse_distillation.anomaly_map import AnomalyMapGenerationMode, AnomalyMapGenerator
from anomalib.models.image.reverse_distillation.torch_model import ReverseDistillationModel
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from torch import nn

from xray_anomalib.models.baselines.base import (
    ANOMALIB_MAP_SIGMA,
    XrayBaselineMixin,
    backbone_pre_processor,
    baseline_construction,
    check_map_sigma,
)
from xray_anomalib.models.components.feature_decoder import MirrorDecoder, OneClassBottleneck, check_divisible_size

RESNET_DECODERS = frozenset(
    {
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "resnext50_32x4d",
        "resnext101_32x8d",
        "wide_resnet50_2",
        "wide_resnet101_2",
    }
)
"""The backbones anomalib mirrors layer for layer in its own bottleneck and decoder."""


class CnnReverseDistillationModel(ReverseDistillationModel):
    """anomalib's Reverse Distillation torch model, also on the stages of any other timm CNN.

    On the ResNets anomalib mirrors it is anomalib's model. On any other timm CNN (the packaged
    EfficientNet-Lite0, say) the encoder is anomalib's feature extractor and the bottleneck and decoder are built
    from its stages' channels and strides (:mod:`~xray_anomalib.models.components.feature_decoder`); the forward
    pass, the anomaly map and the loss are anomalib's.

    Args:
        backbone: timm name of the encoder.
        input_size: Side lengths of the model's input.
        layers: Encoder stages the decoder rebuilds, finest first.
        anomaly_map_mode: ``add`` or ``multiply`` the stages' maps.
        pre_trained: Whether the encoder is made with pretrained weights.
    """

    def __init__(
        self,
        backbone: str,
        input_size: tuple[int, int],
        layers: Sequence[str],
        anomaly_map_mode: AnomalyMapGenerationMode,
        pre_trained: bool = True,
        map_sigma: int = ANOMALIB_MAP_SIGMA,
    ) -> None:
        check_map_sigma(map_sigma)
        if backbone in RESNET_DECODERS:
            super().__init__(backbone, input_size, layers, anomaly_map_mode, pre_trained)
        else:
            self._build_on_any_cnn(backbone, input_size, layers, pre_trained)
        check_divisible_size(input_size, self.encoder.reductions, backbone)
        self.anomaly_map_generator = AnomalyMapGenerator(image_size=input_size, sigma=map_sigma, mode=anomaly_map_mode)

    def _build_on_any_cnn(
        self, backbone: str, input_size: tuple[int, int], layers: Sequence[str], pre_trained: bool
    ) -> None:
        """Build anomalib's parts here, with the bottleneck and decoder made from the encoder's stages."""
        nn.Module.__init__(self)  # anomalib's constructor has no decoder for the backbone
        self.tiler = None
        self.encoder = TimmFeatureExtractor(backbone=backbone, pre_trained=pre_trained, layers=layers)
        channels, strides = self.encoder.out_dims, self.encoder.reductions
        embedding_channels = 2 * max(channels)
        # anomalib annotates its ResNet bottleneck and decoder; its forward only calls them
        self.bottleneck = OneClassBottleneck(channels, strides, embedding_channels)  # type: ignore[assignment]
        self.decoder = MirrorDecoder(channels, strides, embedding_channels)  # type: ignore[assignment]


class ReverseDistillation(XrayBaselineMixin, AnomalibReverseDistillation):
    """anomalib's Reverse Distillation: a one-class bottleneck and a student decoder rebuild the encoder's features.

    anomalib's decoder mirrors a ResNet (``resnet18``, ``resnet50``, ``wide_resnet50_2``...); here any timm CNN
    serves too (:class:`CnnReverseDistillationModel`), the packaged ImageNet EfficientNet-Lite0
    (``tf_efficientnet_lite0``, stages ``blocks.1``, ``blocks.2``, ``blocks.4``) offline among them. No package
    ships ResNet ImageNet weights: a ResNet takes a ``backbone_weights`` file or runs with ``pre_trained: false``.

    Args:
        backbone: timm name of a CNN encoder.
        layers: Encoder stages the decoder rebuilds, finest first.
        anomaly_map_mode: ``add`` or ``multiply`` the stages' maps.
        map_sigma: Standard deviation, in pixels, of the Gaussian that smooths the map (anomalib's: 4). The
            FracAtlas configs keep 4: 1 with ``multiply`` put the peak on more fractures on trained weights, but
            trained with it the epoch kept mapped worse (``docs/benchmarks.md``, "a sharper map").
        pre_trained: ImageNet weights: from ``backbone_weights`` when given, else the packaged ones, else
            downloaded (needs a network).
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
        layers: Sequence[str] = ("layer1", "layer2", "layer3"),
        anomaly_map_mode: AnomalyMapGenerationMode | str = AnomalyMapGenerationMode.ADD,
        map_sigma: int = ANOMALIB_MAP_SIGMA,
        pre_trained: bool = True,
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
        with (
            baseline_construction(backbone, pre_trained, backbone_weights, seed) as pretrained,
            mock.patch.object(
                lightning_model, "ReverseDistillationModel", partial(CnnReverseDistillationModel, map_sigma=map_sigma)
            ),
        ):
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
        self.restrict_to_body(score_in_body, mask_margin)

"""What every anomalib baseline needs here: the mixins, the backbone's input statistics, offline weights."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from anomalib.pre_processing import PreProcessor
from timm.models import get_pretrained_cfg
from torch import nn
from torchvision.transforms.v2 import Compose, Normalize, Resize

from xray_anomalib.metrics import XrayEvaluatorMixin
from xray_anomalib.models.components.backbone import offline_pretrained, packaged_weights_path
from xray_anomalib.models.components.body_score import BodyScoreMixin
from xray_anomalib.models.components.checkpoint_selection import BestCheckpointMixin
from xray_anomalib.models.components.export import FixedSizeExportMixin
from xray_anomalib.models.components.input_size import InputSizeCheckMixin
from xray_anomalib.models.components.model_card import ModelCardMixin
from xray_anomalib.models.components.module import XrayAnomalyModule
from xray_anomalib.models.components.seeding import SeededMixin, seeded
from xray_anomalib.visualization.film_visualizer import FilmVisualizerMixin

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

ProcessorT = TypeVar("ProcessorT", bound=nn.Module | bool)

ANOMALIB_MAP_SIGMA = 4
"""anomalib's smoothing of PatchCore's and Reverse Distillation's maps (the Gaussian's standard deviation, pixels)."""


def check_map_sigma(map_sigma: int) -> None:
    """Refuse a map smoothing that is not a whole number of pixels, 1 or more."""
    if isinstance(map_sigma, bool) or not isinstance(map_sigma, int) or map_sigma < 1:
        msg = f"map_sigma must be a whole number of pixels, 1 or more; got {map_sigma!r}."
        raise ValueError(msg)


def backbone_pre_processor(
    pre_processor: ProcessorT, image_size: int | None, backbone: str
) -> ProcessorT | PreProcessor:
    """Anomalib's default pre-processor (resize, normalise) with the statistics the backbone was trained with.

    ResNets' are ImageNet's (anomalib's default); TensorFlow's EfficientNet-Lite weights expect 0.5 / 0.5.
    """
    if pre_processor is not True:
        return pre_processor
    config = get_pretrained_cfg(backbone)
    mean, std = (config.mean, config.std) if config is not None else (IMAGENET_MEAN, IMAGENET_STD)
    side = image_size or 256
    return PreProcessor(transform=Compose([Resize((side, side), antialias=True), Normalize(mean=mean, std=std)]))


def resize_pre_processor(pre_processor: ProcessorT, image_size: int | None) -> ProcessorT | PreProcessor:
    """Our plugins' resize-only pre-processor, for models trained from scratch on ``[0, 1]`` images (DRAEM)."""
    if pre_processor is not True:
        return pre_processor
    side = image_size or 256
    return XrayAnomalyModule.configure_pre_processor((side, side))


class XrayBaselineMixin(
    BodyScoreMixin,
    SeededMixin,
    InputSizeCheckMixin,
    ModelCardMixin,
    FixedSizeExportMixin,
    FilmVisualizerMixin,
    XrayEvaluatorMixin,
    BestCheckpointMixin,
):
    """What an anomalib model needs here: body score, seeding, size check, deployment, export, visualizer, selection."""


def offline_weights(backbone: str, pre_trained: bool, backbone_weights: str | Path | None) -> str | Path | None:
    """The weights file the backbone loads: the one given, else its packaged ImageNet weights when ``pre_trained``.

    ``None`` leaves the backbone to anomalib (random, or downloaded when ``pre_trained`` and nothing is packaged).
    """
    if backbone_weights is not None:
        return backbone_weights
    return packaged_weights_path(backbone) if pre_trained else None


@contextmanager
def baseline_construction(
    backbone: str, pre_trained: bool, backbone_weights: str | Path | None, seed: int | None
) -> Iterator[bool]:
    """Build an anomalib model's networks offline and seeded; yields the ``pre_trained`` flag to pass it.

    Inside, backbones made pretrained load the offline weights (:func:`offline_weights`) instead of downloading,
    and the random draws come from ``seed`` without touching the caller's random state. A ``backbone_weights``
    file is loaded even when ``pre_trained`` is false.
    """
    weights = offline_weights(backbone, pre_trained, backbone_weights)
    with seeded(seed), offline_pretrained(backbone, weights):
        yield pre_trained or weights is not None

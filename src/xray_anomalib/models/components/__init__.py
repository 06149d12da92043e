"""Building blocks of the models: blocks, losses, scores, the module base class and its mixins."""

from xray_anomalib.models.components.blocks import (
    conv_block,
    conv_decoder,
    conv_encoder,
    init_weights,
    to_model_range,
    up_block,
)
from xray_anomalib.models.components.error_maps import error_map, image_score, masked_mean
from xray_anomalib.models.components.losses import masked_reconstruction_loss
from xray_anomalib.models.components.module import XrayAnomalyModule
from xray_anomalib.models.components.scoring import RECONSTRUCTION_SCORES, Score

__all__ = [
    "RECONSTRUCTION_SCORES",
    "Score",
    "XrayAnomalyModule",
    "conv_block",
    "conv_decoder",
    "conv_encoder",
    "error_map",
    "image_score",
    "init_weights",
    "masked_mean",
    "masked_reconstruction_loss",
    "to_model_range",
    "up_block",
]

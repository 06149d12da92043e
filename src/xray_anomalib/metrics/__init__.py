"""Metrics of X-ray detectors: pixel truth where it exists, inside the body, and where the heatmap peaks."""

from xray_anomalib.metrics.evaluator import XrayEvaluatorMixin, pixel_metrics, xray_evaluator
from xray_anomalib.metrics.pixel import PeakHitRate, PixelAUPRO, PixelAUROC, PositivesWithoutMask, films_with_truth

__all__ = [
    "PeakHitRate",
    "PixelAUPRO",
    "PixelAUROC",
    "PositivesWithoutMask",
    "XrayEvaluatorMixin",
    "films_with_truth",
    "pixel_metrics",
    "xray_evaluator",
]

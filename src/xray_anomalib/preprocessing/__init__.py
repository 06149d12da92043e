"""Preprocessing of X-ray films: the offline pipeline and the online steps as torchvision v2 transforms."""

from xray_anomalib.preprocessing.pipeline import HandCrop, OfflinePipeline, PreprocessingSettings, Variant
from xray_anomalib.preprocessing.transforms import (
    Clahe,
    HistogramEqualization,
    PadToSquare,
    RandomIntensityMultiply,
    ResizeLongestSide,
)

__all__ = [
    "Clahe",
    "HandCrop",
    "HistogramEqualization",
    "OfflinePipeline",
    "PadToSquare",
    "PreprocessingSettings",
    "RandomIntensityMultiply",
    "ResizeLongestSide",
    "Variant",
]

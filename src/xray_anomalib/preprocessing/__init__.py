"""Preprocessing of X-ray films: online steps as torchvision v2 transforms."""

from xray_anomalib.preprocessing.transforms import PadToSquare, ResizeLongestSide

__all__ = ["PadToSquare", "ResizeLongestSide"]

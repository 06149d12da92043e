"""Post-processing: anomalib's normalisation, with the image threshold chosen by an operating-point policy."""

from xray_anomalib.post_processing.operating_point import F1_ADAPTIVE, OperatingPointPostProcessor

__all__ = ["F1_ADAPTIVE", "OperatingPointPostProcessor"]

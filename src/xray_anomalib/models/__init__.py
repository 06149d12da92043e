"""Models: the base module of the X-ray plugins, its components, and anomalib's baselines fitted to X-rays."""

from xray_anomalib.models.baselines import Dfm, Padim, Patchcore
from xray_anomalib.models.components.module import XrayAnomalyModule

__all__ = ["Dfm", "Padim", "Patchcore", "XrayAnomalyModule"]

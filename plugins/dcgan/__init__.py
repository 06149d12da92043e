"""The paper's DCGAN as an xray-anomalib plugin: score ``1 - D(x)``, Grad-CAM heatmaps."""

from .lightning_model import Dcgan

__all__ = ["Dcgan"]

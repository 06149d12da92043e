"""The paper's alpha-GAN as an xray-anomalib plugin: image and code discriminators plus reconstruction scores."""

from .lightning_model import AlphaGan

__all__ = ["AlphaGan"]

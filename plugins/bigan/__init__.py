"""The paper's BiGAN (ALI) as an xray-anomalib plugin: joint discriminator and reconstruction scores."""

from .lightning_model import Bigan

__all__ = ["Bigan"]

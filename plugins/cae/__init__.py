"""The paper's convolutional autoencoder (CAE) as an xray-anomalib plugin."""

from .lightning_model import Cae

__all__ = ["Cae"]

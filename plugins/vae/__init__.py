"""The paper's variational autoencoder (VAE) as an xray-anomalib plugin."""

from .lightning_model import Vae

__all__ = ["Vae"]

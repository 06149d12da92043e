"""Training losses shared by the paper's models."""

from __future__ import annotations

import torch

from xray_anomalib.components.scores import masked_mean


def masked_reconstruction_loss(image: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over hand pixels only (the paper's masked reconstruction loss).

    Each image's error is averaged over its own hand pixels, then over the batch, so that background and
    padding never enter the loss and small hands weigh as much as large ones.
    """
    return masked_mean((image - reconstruction).square(), mask).mean()

"""Training losses shared by the paper's models."""

from __future__ import annotations

import torch

from xray_anomalib.models.components.error_maps import masked_mean


def masked_reconstruction_loss(
    image: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor, l1: bool = False
) -> torch.Tensor:
    """Mean squared (or, with ``l1``, absolute) error over hand pixels only (the paper's masked reconstruction loss).

    Each image's error is averaged over its own hand pixels, then over the batch, so that background and
    padding never enter the loss and small hands weigh as much as large ones.
    """
    difference = image - reconstruction
    return masked_mean(difference.abs() if l1 else difference.square(), mask).mean()

"""A batch's films and hand masks, as the models and their exported graphs take them."""

from __future__ import annotations

import torch
from anomalib.data import Batch


def films_of(batch: Batch) -> torch.Tensor:
    """The batch's ``(B, 3, H, W)`` films.

    Raises:
        ValueError: When the batch holds none (a datamodule always gives a model its films).
    """
    if batch.image is None:
        msg = "The batch holds no films (batch.image is None)."
        raise ValueError(msg)
    return batch.image


def hand_mask_of(batch: Batch) -> torch.Tensor | None:
    """The batch's hand mask as ``(B, 1, H, W)`` float, or ``None`` when the batch has none."""
    mask = getattr(batch, "hand_mask", None)
    if mask is None:
        return None
    image = films_of(batch)
    return mask.reshape(image.shape[0], 1, *image.shape[-2:]).to(image.dtype)


def films_and_masks_of(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's films and ``(B, 1, H, W)`` hand masks, all ones where the batch has none."""
    image = films_of(batch)
    mask = hand_mask_of(batch)
    return image, torch.ones_like(image[:, :1]) if mask is None else mask

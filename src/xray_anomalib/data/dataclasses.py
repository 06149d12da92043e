"""Items and batches that carry the hand and body masks next to anomalib's image fields.

The hand mask says which pixels belong to the hand: the masked reconstruction loss and the heatmaps use it. It is
a separate field, never derived from pixel values (the original code's ``pixel != 0`` broke once images were
normalised). The body mask is the segmentation, which evaluation reads (pixel metrics inside the body, heatmap
peaks); it equals the hand mask of the ``full`` preprocessing, and gives ``raw`` and ``cropped`` models, whose
hand mask is the whole film or crop, the same body to be judged on. ``gt_mask_known`` says per film whether
``gt_mask`` is truth (normal films, and anomalous films with a mask) or a stand-in for a missing mask, which pixel
metrics must leave out. ``film_index`` and ``study_index`` number the film and the study of each item within its
split part (a film split into two hand crops gives two items of one film), so that metrics can score films and
studies as well as items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from anomalib.data import ImageBatch, ImageItem, NumpyImageBatch, NumpyImageItem
from torchvision.tv_tensors import Mask


@dataclass
class XrayNumpyItem(NumpyImageItem):
    """Numpy item with a hand mask of shape ``(H, W)``."""

    hand_mask: np.ndarray | None = None
    body_mask: np.ndarray | None = None
    gt_mask_known: np.ndarray | None = None
    film_index: np.ndarray | None = None
    study_index: np.ndarray | None = None


@dataclass
class XrayNumpyBatch(NumpyImageBatch):
    """Numpy batch with hand masks of shape ``(B, H, W)``."""

    hand_mask: np.ndarray | None = None
    body_mask: np.ndarray | None = None
    gt_mask_known: np.ndarray | None = None
    film_index: np.ndarray | None = None
    study_index: np.ndarray | None = None
    item_class: ClassVar[type[XrayNumpyItem]] = XrayNumpyItem


@dataclass
class XrayItem(ImageItem):
    """One film: anomalib's image item plus ``hand_mask`` (``(H, W)`` bool ``Mask``)."""

    hand_mask: Mask | None = None
    body_mask: Mask | None = None
    gt_mask_known: torch.Tensor | None = None
    film_index: torch.Tensor | None = None
    study_index: torch.Tensor | None = None
    numpy_class: ClassVar[type[XrayNumpyItem]] = XrayNumpyItem


@dataclass
class XrayBatch(ImageBatch):
    """A batch of films: anomalib's image batch plus ``hand_mask`` (``(B, H, W)`` bool)."""

    hand_mask: Mask | None = None
    body_mask: Mask | None = None
    gt_mask_known: torch.Tensor | None = None
    film_index: torch.Tensor | None = None
    study_index: torch.Tensor | None = None
    item_class: ClassVar[type[XrayItem]] = XrayItem
    numpy_class: ClassVar[type[XrayNumpyBatch]] = XrayNumpyBatch

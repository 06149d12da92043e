"""Image metrics that say when they cannot be computed, instead of returning a number that looks like one."""

from __future__ import annotations

from typing import Any

import torch
from anomalib.metrics import AUROC
from torchmetrics.utilities import dim_zero_cat

IMAGE_FIELDS = ("pred_score", "gt_label")


def both_classes(target: list[torch.Tensor] | torch.Tensor) -> bool:
    """Whether a metric's label state (a list, or one tensor once DDP has synced it) holds both classes."""
    labels = dim_zero_cat(target) if len(target) else torch.empty(0)
    return labels.unique().numel() >= 2


class ImageAUROC(AUROC):
    """anomalib's image AUROC, NaN where the films hold one class only (torchmetrics would return 0).

    Selecting a checkpoint by a 0 that means "undefined" would keep the first epoch silently; NaN lets the
    selection see that validation cannot rank the epochs.

    Args:
        prefix: Prefix of the metric's name: ``val_image_`` gives ``val_image_AUROC``.
        **kwargs: Passed to anomalib's ``AUROC``.
    """

    def __init__(self, prefix: str = "image_", **kwargs: Any) -> None:
        super().__init__(fields=list(IMAGE_FIELDS), prefix=prefix, **kwargs)
        self.name = f"{prefix}AUROC"

    def compute(self) -> torch.Tensor:  # type: ignore[override]  # anomalib's AUROC returns one value
        """The AUROC, or NaN when the labels seen hold one class (or no film was seen)."""
        if not both_classes(self.target):
            return torch.tensor(float("nan"))
        return super().compute()

"""Record each epoch's validation figures, so that a run shows how they moved and which epoch each would keep."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lightning.pytorch import Callback

if TYPE_CHECKING:
    from lightning.pytorch import LightningModule, Trainer


class ValidationHistory(Callback):
    """Keeps the validation figures (``val_`` metrics, prefix dropped) of every epoch, the sanity check left out.

    Attributes:
        epochs: One mapping per validated epoch, ``epoch`` (1 = after the first) first; an undefined figure is
            ``None``.
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, float | None]] = []

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Add this epoch's figures."""
        del pl_module
        if trainer.sanity_checking:
            return
        figures = {
            name.removeprefix("val_"): float(value)
            for name, value in trainer.callback_metrics.items()
            if name.startswith("val_")
        }
        defined = {name: None if math.isnan(value) else value for name, value in figures.items()}
        self.epochs.append({"epoch": trainer.current_epoch + 1, **defined})

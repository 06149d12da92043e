"""Keep the epoch with the best validation image AUROC, as the paper selected its models on validation films.

Every X-ray model installs :class:`BestValidationCheckpoint` in place of anomalib's default checkpoint (same folder,
same ``model.ckpt``), unless the trainer already has a checkpoint callback that monitors something. ``model.ckpt``
then holds the weights of the best validation epoch (what ``anomalib test``, ``export`` and ``predict`` use); a
plain checkpoint beside it, ``last.ckpt``, holds the last epoch's (resume a killed training from it). When training
ends, the model in memory is given the best epoch's weights too, so the test that ``anomalib train`` runs after the
fit scores the kept weights.

The epoch can be kept by a localisation figure of the validation films instead (:class:`KeptBy`): give the trainer
the callback with that ``monitor``; the model then gives it anomalib's checkpoint folder and adds ``last.ckpt``::

    trainer:
      callbacks:
        - class_path: xray_anomalib.callbacks.BestValidationCheckpoint
          init_args: {monitor: val_pixel_peak_hit}

When the figure is undefined (NaN: validation films of one class, or no anomalous film with a mask), the newest
epoch is kept, as without selection; the log says so.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from anomalib.callbacks.checkpoint import ModelCheckpoint
from lightning.pytorch import LightningModule, Trainer

from xray_anomalib.utils.choices import Choice

logger = logging.getLogger(__name__)


class KeptBy(Choice):
    """The validation figure whose best epoch is kept, as the evaluator logs it."""

    IMAGE_AUROC = "val_image_AUROC"
    """Image AUROC (the paper's rule, the default)."""
    PIXEL_AUROC_IN_BODY = "val_pixel_AUROC_in_body"
    """Pixel AUROC inside the body mask, over the films with pixel truth."""
    PEAK_HIT = "val_pixel_peak_hit"
    """Share of the anomalous films with pixel truth whose heatmap peak lies on the anomaly."""

    @property
    def description(self) -> str:
        """The figure in words, e.g. for the model card."""
        return {
            KeptBy.IMAGE_AUROC: "image AUROC",
            KeptBy.PIXEL_AUROC_IN_BODY: "pixel AUROC in the body",
            KeptBy.PEAK_HIT: "heatmap peak on the anomaly",
        }[self]


VALIDATION_AUROC = KeptBy.IMAGE_AUROC.value
"""Name under which the evaluator logs the validation image AUROC."""


class BestValidationCheckpoint(ModelCheckpoint):
    """anomalib's checkpoint callback, keeping the epoch of the best validation image AUROC (or ``monitor``).

    Args:
        dirpath: Folder of the checkpoints (anomalib's ``<run>/weights/lightning`` when installed by a model).
        filename: Name of the best checkpoint, without suffix.
        monitor: The validation figure whose best epoch is kept (:class:`KeptBy`; higher is better).
        **kwargs: Passed to the checkpoint callback.

    Raises:
        ValueError: ``monitor`` is not one of :class:`KeptBy` (the error lists them).

    Attributes:
        kept_by: The figure that keeps the epoch.
        kept_epoch: Number of epochs trained when the kept weights were saved (1 = after the first epoch), set when
            the fit ends; ``None`` before.
        kept_figure: Their validation figure (``kept_by``; NaN where it was undefined).
    """

    def __init__(
        self,
        dirpath: str | Path | None = None,
        filename: str = "model",
        monitor: KeptBy | str = KeptBy.IMAGE_AUROC,
        **kwargs: Any,
    ) -> None:
        self.kept_by = KeptBy(monitor)
        options = {"mode": "max", "auto_insert_metric_name": False}
        super().__init__(dirpath=dirpath, filename=filename, monitor=self.kept_by.value, **{**options, **kwargs})
        self.kept_epoch: int | None = None
        self.kept_figure = math.nan

    def check_monitor_top_k(self, trainer: Trainer, current: torch.Tensor | None = None) -> bool:
        """A better figure replaces the kept epoch; an undefined one (NaN) too, so that the newest is kept."""
        if current is not None and torch.isnan(current):
            return True
        return super().check_monitor_top_k(trainer, current)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Give the model in memory the kept epoch's weights and log which epoch that is."""
        if not self.best_model_path:
            return
        checkpoint = torch.load(self.best_model_path, map_location=pl_module.device, weights_only=False)
        pl_module.load_state_dict(checkpoint["state_dict"])
        self.kept_epoch = int(checkpoint["epoch"]) + 1
        score = self.best_model_score
        self.kept_figure = math.nan if score is None or not torch.isfinite(score) else float(score)
        if math.isnan(self.kept_figure):
            logger.warning(
                "No validation %s to select by (validation films of one class, or no anomaly with a mask); "
                "kept the last epoch (%d).",
                self.kept_by.description,
                self.kept_epoch,
            )
            return
        logger.info(
            "Kept epoch %d of %d: best validation %s %.4f (%s).",
            self.kept_epoch,
            trainer.current_epoch,
            self.kept_by.description,
            self.kept_figure,
            self.best_model_path,
        )

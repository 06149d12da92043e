"""Keep the epoch with the best validation image AUROC, as the paper selected its models on validation films.

Every X-ray model installs :class:`BestValidationCheckpoint` in place of anomalib's default checkpoint (same folder,
same ``model.ckpt``), unless the trainer already has a checkpoint callback that monitors something. ``model.ckpt``
then holds the weights of the best validation epoch (what ``anomalib test``, ``export`` and ``predict`` use); a
plain checkpoint beside it, ``last.ckpt``, holds the last epoch's (resume a killed training from it). When training
ends, the model in memory is given the best epoch's weights too, so the test that ``anomalib train`` runs after the
fit scores the kept weights.

When the validation films hold one class, the AUROC is undefined (NaN) and the newest epoch is kept, as without
selection; the log says so.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from anomalib.callbacks.checkpoint import ModelCheckpoint
from lightning.pytorch import LightningModule, Trainer

logger = logging.getLogger(__name__)
VALIDATION_AUROC = "val_image_AUROC"
"""Name under which the evaluator logs the validation image AUROC."""


class BestValidationCheckpoint(ModelCheckpoint):
    """anomalib's checkpoint callback, keeping the epoch of the best validation image AUROC.

    Args:
        dirpath: Folder of the checkpoints (anomalib's ``<run>/weights/lightning`` when installed by a model).
        filename: Name of the best checkpoint, without suffix.
        **kwargs: Passed to the checkpoint callback.

    Attributes:
        kept_epoch: Number of epochs trained when the kept weights were saved (1 = after the first epoch), set when
            the fit ends; ``None`` before.
        kept_auroc: Their validation image AUROC (NaN where it was undefined).
    """

    def __init__(self, dirpath: str | Path | None = None, filename: str = "model", **kwargs: Any) -> None:
        options = {"monitor": VALIDATION_AUROC, "mode": "max", "auto_insert_metric_name": False}
        super().__init__(dirpath=dirpath, filename=filename, **{**options, **kwargs})
        self.kept_epoch: int | None = None
        self.kept_auroc = math.nan

    def check_monitor_top_k(self, trainer: Trainer, current: torch.Tensor | None = None) -> bool:
        """A better AUROC replaces the kept epoch; an undefined one (NaN) too, so that the newest is kept."""
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
        self.kept_auroc = math.nan if score is None or not torch.isfinite(score) else float(score)
        if math.isnan(self.kept_auroc):
            logger.warning(
                "Validation films hold one class: no validation AUROC to select by; kept the last epoch (%d).",
                self.kept_epoch,
            )
            return
        logger.info(
            "Kept epoch %d of %d: best validation image AUROC %.4f (%s).",
            self.kept_epoch,
            trainer.current_epoch,
            self.kept_auroc,
            self.best_model_path,
        )

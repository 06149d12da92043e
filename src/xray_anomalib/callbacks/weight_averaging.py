"""An exponential moving average of the weights (EMA), validated, checkpointed and kept in place of the raw weights.

Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` keeps an averaged copy of the model, gives it to
validation and saves it as the checkpoint's weights (the raw ones as ``current_model_state``); the epoch kept by
:class:`~xray_anomalib.callbacks.BestValidationCheckpoint` is then the averaged model's. This names its EMA form with
one number, so that a YAML config can ask for it::

    trainer:
      callbacks:
        - class_path: xray_anomalib.callbacks.ExponentialWeightAveraging
          init_args: {decay: 0.99}

A model whose validation figures jump from epoch to epoch (a high learning rate, a small batch) keeps an average of
its last ``1 / (1 - decay)`` optimiser steps instead of whichever step an epoch happened to end on.

Only the parameters are averaged. The buffers are the model's own, copied into the average after each step and
before each checkpoint: an anomalib model's buffers include its post-processor's thresholds and normalisation
bounds, which start as NaN (an average of them would stay NaN) and are set at the end of each validation from the
averaged model's scores; batch-norm statistics come with them, as the raw model last estimated them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

if TYPE_CHECKING:
    from lightning.pytorch import LightningModule, Trainer


class ExponentialWeightAveraging(WeightAveraging):
    """Lightning's weight averaging as an EMA of the parameters, updated after every optimiser step.

    Args:
        decay: Share of the average kept at each step, in ``(0, 1)``; it averages about the last ``1 / (1 - decay)``
            steps (0.99: 100).
        **kwargs: Passed to :class:`~lightning.pytorch.callbacks.WeightAveraging` (e.g. ``device``).

    Raises:
        ValueError: ``decay`` is not strictly between 0 and 1.
    """

    def __init__(self, decay: float = 0.99, **kwargs: Any) -> None:
        if not 0.0 < decay < 1.0:
            msg = f"ExponentialWeightAveraging: decay must lie strictly between 0 and 1, got {decay}."
            raise ValueError(msg)
        super().__init__(use_buffers=False, multi_avg_fn=get_ema_multi_avg_fn(decay), **kwargs)
        self.decay = decay

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any, **kwargs: Any) -> None:
        """Average the parameters, then give the average the model's buffers."""
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        self._copy_buffers(pl_module)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Save the averaged parameters with the buffers the model holds now (this validation's thresholds)."""
        self._copy_buffers(pl_module)
        super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Leave the model the averaged parameters and its own buffers."""
        self._copy_buffers(pl_module)
        super().on_train_end(trainer, pl_module)

    @torch.no_grad()
    def _copy_buffers(self, pl_module: LightningModule) -> None:
        """Copy the model's buffers into the averaged copy (same modules, same order)."""
        average = self._average_model
        if average is None:
            return
        for averaged, own in zip(average.module.buffers(), pl_module.buffers(), strict=True):
            averaged.copy_(own)

"""Mix into an ``AnomalibModule``: keep the epoch with the best validation image AUROC (see the callback)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anomalib.callbacks.checkpoint import ModelCheckpoint as LastCheckpoint
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint

from xray_anomalib.callbacks import BestValidationCheckpoint, KeptBy
from xray_anomalib.utils.mixin_base import ModuleMixinBase

LAST_CHECKPOINT = "last"
"""File name (without suffix) of the last epoch's checkpoint."""


class BestCheckpointMixin(ModuleMixinBase):
    """Replaces the trainer's default checkpoint by :class:`~xray_anomalib.callbacks.BestValidationCheckpoint`.

    The replacement writes to the same folder and file; ``last.ckpt`` beside it holds the last epoch (to resume
    from). The best one comes first, so that ``trainer.checkpoint_callback`` is the kept epoch's. A best-validation
    checkpoint the user gave the trainer without a folder (to keep the epoch by another figure) is renewed with its
    ``monitor`` in anomalib's checkpoint folder (``<run>/weights/lightning``). A trainer without
    checkpointing, or with another checkpoint callback of the user's that monitors a metric, is left as it is.
    """

    def configure_callbacks(self) -> Sequence[Callback] | Callback:
        """The components' callbacks and, in place of the default checkpoint, the best-validation one."""
        callbacks = super().configure_callbacks()
        callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        trainer = self._trainer
        if trainer is None:
            return callbacks
        default = trainer.checkpoint_callback
        given = default if isinstance(default, BestValidationCheckpoint) and default.dirpath is None else None
        if not isinstance(default, ModelCheckpoint) or (
            given is None and any(getattr(callback, "monitor", None) for callback in trainer.checkpoint_callbacks)
        ):
            return callbacks
        folder = default.dirpath or Path(trainer.default_root_dir) / "weights" / "lightning"
        monitor = given.kept_by if given else KeptBy.IMAGE_AUROC
        best = BestValidationCheckpoint(dirpath=folder, filename=default.filename or "model", monitor=monitor)
        return [best, LastCheckpoint(dirpath=folder, filename=LAST_CHECKPOINT), *callbacks]

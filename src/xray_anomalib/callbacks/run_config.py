"""Keep the resolved configuration in the run folder when a logger takes Lightning's copy elsewhere.

anomalib's CLI saves ``config.yaml`` into ``trainer.log_dir``: the run folder without a logger, the logger's own
folder (e.g. ``results/tensorboard/xray/version_0``) with one. :class:`RunFolderConfig` writes the same file into
the run folder too, so that the run folder always holds the configuration that made it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lightning.pytorch import Callback
from lightning.pytorch.cli import SaveConfigCallback

if TYPE_CHECKING:
    from lightning.pytorch import LightningModule, Trainer


class RunFolderConfig(Callback):
    """Writes the CLI's resolved configuration into ``trainer.default_root_dir`` where a logger moved it."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Save the configuration of the CLI's ``SaveConfigCallback`` into the run folder (global zero only)."""
        del pl_module, stage
        run_folder = Path(trainer.default_root_dir)
        if trainer.log_dir is None or Path(trainer.log_dir).resolve() == run_folder.resolve():
            return
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if isinstance(callback, SaveConfigCallback) and trainer.is_global_zero:
                run_folder.mkdir(parents=True, exist_ok=True)
                callback.parser.save(
                    callback.config,
                    str(run_folder / callback.config_filename),
                    skip_none=False,
                    overwrite=True,
                    multifile=callback.multifile,
                )

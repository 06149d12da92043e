"""What a distributed (DDP) run needs beyond Lightning: gathered results and one shared run folder."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import torch
from lightning.pytorch import LightningModule, Trainer


def gather_across_processes(module: LightningModule, values: torch.Tensor) -> torch.Tensor:
    """``values`` (``N x ...``) of every process of a distributed run, concatenated along the first dimension.

    Unchanged in a single process. Lightning's distributed sampler gives every process the same number of films,
    so the shapes agree.
    """
    trainer = module._trainer
    if trainer is None or trainer.world_size < 2:
        return values
    return cast("torch.Tensor", module.all_gather(values)).flatten(0, 1)  # a tensor gathers into a tensor


def share_run_folder(trainer: Trainer) -> None:
    """Make every process of a distributed run write into the run folder of process 0.

    Lightning starts the other processes by running the same command again, so anomalib's engine makes a new
    version folder in each and points ``latest`` at the last one, which holds no checkpoint. Process 0's folder
    is shared with all processes, the others' empty folders are removed and ``latest`` points at process 0's.
    """
    folder = Path(trainer.strategy.broadcast(str(trainer.default_root_dir), src=0))
    own = Path(trainer.default_root_dir)
    if own != folder:
        trainer._default_root_dir = str(folder)  # type: ignore[attr-defined]  # Lightning has no public setter
        if own.is_dir() and not any(own.iterdir()):
            own.rmdir()
    trainer.strategy.barrier("share_run_folder")
    latest = folder.parent / "latest"
    if trainer.is_global_zero and latest.is_symlink() and latest.resolve() != folder.resolve():
        latest.unlink()
        latest.symlink_to(folder, target_is_directory=True)

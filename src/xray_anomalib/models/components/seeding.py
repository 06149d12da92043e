"""Seeds that make a model's initial weights and its training repeat, without resetting anyone else's random state.

anomalib 2.7's CLI reads ``seed_everything`` but does not apply it, so our models carry a ``seed``: it seeds the
weights drawn while the model is built (inside :func:`seeded`, which restores the global state afterwards, so
loading a checkpoint leaves the caller's random state alone) and the whole run when fitting starts (data order,
noise, dropout), through :class:`SeededMixin`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np
import torch
from lightning.pytorch import seed_everything

from xray_anomalib.utils.mixin_base import ModuleMixinBase


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with Python's, NumPy's and torch's CPU generators seeded; restore their states after it.

    Args:
        seed: The seed; ``None`` runs the block on the random state as it is.
    """
    if seed is None:
        yield
        return
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


class SeededMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule`` with a ``seed`` attribute: the fit is seeded when it starts."""

    seed: int | None = None

    def seeded(self) -> AbstractContextManager[None]:
        """The context in which the module draws its initial weights (:func:`seeded` with the module's seed)."""
        return seeded(self.seed)

    def on_fit_start(self) -> None:
        """Seed every generator of every process with the module's seed (data order, noise, dropout)."""
        if self.seed is not None:
            seed_everything(self.seed, verbose=False)
        super().on_fit_start()

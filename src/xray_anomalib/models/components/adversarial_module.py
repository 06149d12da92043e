"""Lightning side of the GANs: manual optimisation with one Adam optimiser per network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from anomalib.data import Batch
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities.types import STEP_OUTPUT

from xray_anomalib.models.components.adversarial import AdversarialModel
from xray_anomalib.models.components.module import XrayAnomalyModule


class AdversarialModule(XrayAnomalyModule):
    """Trains ``self.model`` (set by the subclass) phase by phase, as anomalib's GANomaly does, by manual optimisation.

    The torch model lists its networks in ``networks`` (attribute names) and returns its
    :class:`~xray_anomalib.models.components.adversarial.TrainingPhase` list from ``training_phases()``. Each phase's
    loss is computed after the previous phase's step (so the generator meets the updated discriminator),
    back-propagated, and stepped by the optimisers of that phase's networks only. A non-finite loss stops training
    with an error naming the phase instead of silently training on NaN.

    Args:
        image_size: Side of the square input.
        depth: Number of halvings in the deepest network.
        learning_rates: Adam learning rate of each network, by attribute name.
        beta1: Adam's first momentum coefficient (the paper: 0.5).
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    model: AdversarialModel

    def __init__(
        self,
        image_size: int,
        depth: int,
        learning_rates: Mapping[str, float],
        beta1: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, depth, **kwargs)
        self.automatic_optimization = False
        self.learning_rates = dict(learning_rates)
        self.beta1 = beta1

    def setup(self, stage: str) -> None:
        """Under DDP, let the reducer skip the networks a phase does not use.

        Each phase's backward reaches only some networks, which plain DDP refuses. Lightning calls this hook
        before it wraps the module, so ``strategy: ddp`` works as ``ddp_find_unused_parameters_true`` would.
        """
        super().setup(stage)
        strategy = self.trainer.strategy
        if isinstance(strategy, DDPStrategy):
            strategy._ddp_kwargs["find_unused_parameters"] = True  # Lightning offers no public setter

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """One Adam per network, in the order of ``model.networks``."""
        missing = [name for name in self.model.networks if name not in self.learning_rates]
        if missing:
            msg = f"No learning rate for network(s) {missing}."
            raise ValueError(msg)
        return [
            torch.optim.Adam(
                getattr(self.model, name).parameters(), lr=self.learning_rates[name], betas=(self.beta1, 0.999)
            )
            for name in self.model.networks
        ]

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Run every training phase once on the batch; log each phase's loss."""
        del args, kwargs
        image, mask = self.films_and_masks_of(batch)
        optimizers = dict(zip(self.model.networks, self.optimizers(), strict=True))
        for phase in self.model.training_phases():
            loss = phase.loss(image, mask)
            if not torch.isfinite(loss):
                msg = f"The {phase.name} loss became {loss.item()} at step {self.global_step}; lower its learning rate."
                raise FloatingPointError(msg)
            for optimizer in optimizers.values():
                optimizer.zero_grad()
            self.manual_backward(loss)
            for name in phase.networks:
                optimizers[name].step()
            self.log(f"train_{phase.name}_loss", loss, on_epoch=True, prog_bar=True, batch_size=image.shape[0])
        return None

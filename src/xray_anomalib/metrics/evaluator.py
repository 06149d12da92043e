"""The metrics of every X-ray model: anomalib's image metrics and the pixel metrics over films with truth.

Validation logs ``val_image_AUROC`` (NaN where the validation films hold one class), which selects the checkpoint
kept (:class:`~xray_anomalib.callbacks.BestValidationCheckpoint`), its 95% bootstrap interval
(``val_image_AUROC_ci_low``, ``val_image_AUROC_ci_high``) and, over the validation films with pixel truth, the two
localisation figures the checkpoint can be kept by instead: ``val_pixel_AUROC_in_body`` and ``val_pixel_peak_hit``
(NaN without anomalous films with a mask).

``anomalib test`` prints, beside ``image_AUROC`` and ``image_F1Score``:

- ``pixel_AUROC_in_body``: pixel AUROC inside the body mask, the headline (a map that is zero outside the body
  cannot score here by the background alone);
- ``pixel_AUROC``: over every pixel of the films, as anomalib reports it;
- ``pixel_AUPRO``: anomalib's AUPRO (FPR up to 0.3);
- ``pixel_peak_hit``: share of the anomalous films whose heatmap peak inside the body lies on the anomaly;
- ``pixel_positives_without_mask``: anomalous films without a mask, which the pixel metrics leave out;
- ``image_sensitivity_at_90_specificity``, ``image_sensitivity_at_95_specificity`` and
  ``image_specificity_at_95_sensitivity``: operating points of the image score (per hand crop, as anomalib's
  image metrics; NaN where the test items hold one class);
- ``<image metric>_ci_low`` and ``<image metric>_ci_high``: the 95% bootstrap interval over the test items of the
  image AUROC and of each operating point;
- ``film_AUROC``, ``study_AUROC`` and the operating points per film and per study (``film_sensitivity_at_90_
  specificity``, ``study_specificity_at_95_sensitivity``...), each with its ``_ci_low`` and ``_ci_high``: a film
  or study scores its highest hand crop and is anomalous when one of its crops is, as the benchmark and
  ``predict`` score them (NaN under a datamodule that does not number films and studies);
- ``image_sensitivity_at_threshold`` and ``image_specificity_at_threshold``: the operating point that the model's
  image threshold (its ``pred_label``, as ``predict`` labels films) reaches on the test items.
"""

from __future__ import annotations

from anomalib.metrics import AUROC, AnomalibMetric, Evaluator, F1Score, create_anomalib_metric
from torchmetrics.classification import BinaryRecall, BinarySpecificity

from xray_anomalib.metrics.bootstrap import Level, interval_bounds, level_statistics
from xray_anomalib.metrics.image import ImageAUROC
from xray_anomalib.metrics.operating_points import (
    SENSITIVITY_TARGETS,
    SPECIFICITY_TARGETS,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from xray_anomalib.metrics.pixel import (
    FilmsWithTruthMetric,
    PeakHitRate,
    PixelAUPRO,
    PixelAUROC,
    PositivesWithoutMask,
)
from xray_anomalib.utils.mixin_base import ModuleMixinBase

OPERATING_POINTS = [
    *(("sensitivity", specificity) for specificity in SPECIFICITY_TARGETS),
    *(("specificity", sensitivity) for sensitivity in SENSITIVITY_TARGETS),
]
"""The ``(rate, fixed rate)`` operating points reported."""
LABEL_FIELDS = ["pred_label", "gt_label"]
_Recall = create_anomalib_metric(BinaryRecall)
_Specificity = create_anomalib_metric(BinarySpecificity)


def _at_threshold(metric: type[AnomalibMetric], rate: str) -> AnomalibMetric:
    """A rate of the predicted labels, named ``image_<rate>_at_threshold``."""
    instance = metric(fields=LABEL_FIELDS, prefix="image_")
    instance.name = f"image_{rate}_at_threshold"
    return instance


def pixel_metrics() -> list[FilmsWithTruthMetric | PositivesWithoutMask]:
    """Fresh pixel metrics over the films with truth, as ``anomalib test`` and the benchmark report them."""
    return [PixelAUROC(in_body=True), PixelAUROC(), PixelAUPRO(), PeakHitRate(), PositivesWithoutMask()]


def xray_evaluator() -> Evaluator:
    """The evaluator of the X-ray models (see the module docstring)."""
    return Evaluator(
        val_metrics=[
            ImageAUROC(prefix="val_image_"),
            *interval_bounds("val_image_", []),
            PixelAUROC(in_body=True, prefix="val_pixel_"),
            PeakHitRate(prefix="val_pixel_"),
        ],
        test_metrics=[
            AUROC(fields=["pred_score", "gt_label"], prefix="image_"),
            F1Score(fields=["pred_label", "gt_label"], prefix="image_"),
            *pixel_metrics(),
            *(SensitivityAtSpecificity(specificity) for specificity in SPECIFICITY_TARGETS),
            *(SpecificityAtSensitivity(sensitivity) for sensitivity in SENSITIVITY_TARGETS),
            *interval_bounds("image_", OPERATING_POINTS),
            *(statistic for level in Level for statistic in level_statistics(level, OPERATING_POINTS)),
            _at_threshold(_Recall, "sensitivity"),
            _at_threshold(_Specificity, "specificity"),
        ],
    )


class XrayEvaluatorMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule``: ``evaluator=True`` gives :func:`xray_evaluator` instead of anomalib's default."""

    @staticmethod
    def configure_evaluator() -> Evaluator:
        """The X-ray evaluator."""
        return xray_evaluator()

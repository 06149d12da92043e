"""Lightning callbacks of the X-ray models."""

from xray_anomalib.callbacks.best_validation import VALIDATION_AUROC, BestValidationCheckpoint

__all__ = ["VALIDATION_AUROC", "BestValidationCheckpoint"]

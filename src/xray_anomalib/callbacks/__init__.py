"""Lightning callbacks of the X-ray models."""

from xray_anomalib.callbacks.best_validation import VALIDATION_AUROC, BestValidationCheckpoint, KeptBy
from xray_anomalib.callbacks.run_config import RunFolderConfig
from xray_anomalib.callbacks.validation_history import ValidationHistory
from xray_anomalib.callbacks.weight_averaging import ExponentialWeightAveraging

__all__ = [
    "VALIDATION_AUROC",
    "BestValidationCheckpoint",
    "ExponentialWeightAveraging",
    "KeptBy",
    "RunFolderConfig",
    "ValidationHistory",
]

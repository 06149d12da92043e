"""Lightning callbacks of the X-ray models."""

from xray_anomalib.callbacks.best_validation import VALIDATION_AUROC, BestValidationCheckpoint
from xray_anomalib.callbacks.run_config import RunFolderConfig

__all__ = ["VALIDATION_AUROC", "BestValidationCheckpoint", "RunFolderConfig"]

"""Ensembles across trained models as an xray-anomalib plugin: members' scores standardised and averaged."""

from .lightning_model import ModelEnsemble

__all__ = ["ModelEnsemble"]

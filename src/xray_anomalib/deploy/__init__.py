"""Deployment: the settings a trained model carries, and scoring new films with it."""

from xray_anomalib.deploy.batch import PredictionSummary, predict_folder
from xray_anomalib.deploy.predictor import FilmPrediction, FilmStatus, Predictor
from xray_anomalib.models.components.deployment import DeploymentError, DeploymentSettings

__all__ = [
    "DeploymentError",
    "DeploymentSettings",
    "FilmPrediction",
    "FilmStatus",
    "PredictionSummary",
    "Predictor",
    "predict_folder",
]

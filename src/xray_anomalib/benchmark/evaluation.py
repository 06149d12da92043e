"""Every score of a trained model on the test or validation films: per-film scores and image, pixel and study metrics.

One trained model gives all the scores it computes (an X-ray plugin's ``score_maps``), so a benchmark trains once
per model and reads every score from the same weights. anomalib's baselines give their one score (``default``).
Metrics come from torchmetrics and anomalib: image AUROC, study AUROC (a study's score is the max, or the mean, of
its films' scores, as MURA labels studies), and the pixel metrics of ``anomalib test``
(:func:`~xray_anomalib.metrics.pixel_metrics`, the evaluator's own) over the films with pixel truth: pixel AUROC
inside the body (the headline) and over the whole film, AUPRO (FPR up to 0.3), the share of anomalous films whose
heatmap peak inside the body lies on the anomaly, and the anomalous films without a mask.

Scores are read before anomalib's post-processor, which normalises them with the validation range and clamps them to
``[0, 1]``: films beyond that range would tie. Without that normalisation the model's own score gives the figures
``anomalib test`` prints (tests/test_benchmark_evaluation.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pandas as pd
import torch
from anomalib.models import AnomalibModule
from torchmetrics import Metric
from torchmetrics.classification import BinaryAUROC

from xray_anomalib.data import XrayDataModule
from xray_anomalib.metrics import PeakHitRate, pixel_metrics
from xray_anomalib.models.components.body_score import BodyScoreMixin
from xray_anomalib.models.components.scoring import Score, ScoringModel

DEFAULT_SCORE = "default"


@dataclass
class FilmScores:
    """Scores of one split's films and their metrics.

    Attributes:
        films: One row per film (or hand crop): ``study_id``, ``film_path``, ``label`` and one column per score.
        metrics: One row per score with ``score``, ``image_auroc``, ``pixel_auroc_in_body``, ``pixel_auroc``,
            ``aupro``, ``peak_hit``, ``peak_chance``, ``study_auroc_max``, ``study_auroc_mean`` and
            ``positives_without_mask``. Pixel metrics are computed over the films with pixel truth (the evaluator's
            metrics) and are NaN where the split has no anomaly masks.
        ms_per_image: Milliseconds per film of scoring in torch (all scores at once, batches of the datamodule).
    """

    films: pd.DataFrame
    metrics: pd.DataFrame
    ms_per_image: float


def score_names(model: AnomalibModule) -> tuple[str, ...]:
    """Names of the scores :func:`score_films` reports for ``model`` (``combined`` when it has one)."""
    if not isinstance(model.model, ScoringModel):
        return (DEFAULT_SCORE,)
    return (*model.model.score_names, *([str(Score.COMBINED)] if model.model.combination is not None else []))


def score_maps_of(model: AnomalibModule, image: torch.Tensor, hand_mask: torch.Tensor) -> dict:
    """``name -> (scores, maps)`` of every score the model computes."""
    if isinstance(model.model, ScoringModel):
        scored = model.model.score_maps(image, hand_mask)
        if model.model.combination is not None:
            scored[Score.COMBINED] = model.model.combination(scored)
        return scored
    image = model.pre_processor(image) if model.pre_processor else image
    output = model.scored(image, hand_mask) if isinstance(model, BodyScoreMixin) else model.model(image)
    if output.pred_score is None or output.anomaly_map is None:
        msg = f"{type(model).__name__} gave no image score or anomaly map to evaluate."
        raise ValueError(msg)
    return {DEFAULT_SCORE: (output.pred_score.reshape(-1), output.anomaly_map.reshape(hand_mask.shape))}


def _unit_range(values: torch.Tensor) -> torch.Tensor:
    """Min-max scaled into ``[0, 1]``: torchmetrics applies a sigmoid to predictions outside it, which saturates."""
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else torch.zeros_like(values)


def _auroc(scores: pd.Series, labels: pd.Series) -> float:
    if labels.nunique() < 2:
        return float("nan")
    return BinaryAUROC()(_unit_range(torch.tensor(scores.to_numpy())), torch.tensor(labels.to_numpy())).item()


PIXEL_COLUMNS = {
    "pixel_AUROC_in_body": "pixel_auroc_in_body",
    "pixel_AUROC": "pixel_auroc",
    "pixel_AUPRO": "aupro",
    "pixel_peak_hit": "peak_hit",
    "pixel_positives_without_mask": "positives_without_mask",
}
"""The report's column of each of the evaluator's pixel metrics (the names the recorded results use)."""


def _unit_range_maps(maps: list[torch.Tensor]) -> list[torch.Tensor]:
    """All test maps of one score scaled together into ``[0, 1]`` (one scale for every film, as thresholds are)."""
    low, high = min(part.min() for part in maps), max(part.max() for part in maps)
    return [(part - low) / (high - low) if high > low else torch.zeros_like(part) for part in maps]


def _scored_batches(model: AnomalibModule, dataloader: Iterable) -> Iterator[tuple[Any, dict, float]]:
    """Each batch with ``name -> (scores, maps)`` of every score of ``model``, and the seconds the scoring took."""
    model.eval()
    for batch in dataloader:
        hand = batch.hand_mask.unsqueeze(1).to(batch.image.dtype)
        start = time.perf_counter()
        scored = score_maps_of(model, batch.image, hand)
        yield batch, scored, time.perf_counter() - start


@torch.no_grad()
def score_films(model: AnomalibModule, datamodule: XrayDataModule, split: str = "test") -> FilmScores:
    """Score every film of ``split`` (``test`` or ``val``) with every score of ``model`` and compute the metrics.

    Settings may be chosen on the validation films' figures, never on the test films'.
    """
    splits = {
        "test": (datamodule.test_data, datamodule.test_dataloader),
        "val": (datamodule.val_data, datamodule.val_dataloader),
    }
    if split not in splits:
        msg = f"split must be one of {sorted(splits)}, got {split!r}."
        raise ValueError(msg)
    dataset, dataloader = splits[split]
    columns: dict[str, list[torch.Tensor]] = {}
    maps: dict[str, list[torch.Tensor]] = {}
    batches: list[SimpleNamespace] = []
    labels, has_masks = [], dataset.task == "segmentation"
    seconds = 0.0
    for batch, scored, spent in _scored_batches(model, dataloader()):
        seconds += spent
        labels.append(batch.gt_label.int())
        if has_masks:
            truth = {key: getattr(batch, key) for key in ("gt_label", "gt_mask", "gt_mask_known", "body_mask")}
            batches.append(SimpleNamespace(**truth))
        for name, (score, anomaly_map) in scored.items():
            columns.setdefault(name, []).append(score.float())
            if has_masks:
                maps.setdefault(name, []).append(anomaly_map.reshape(batch.gt_mask.shape).float())
    samples = dataset.samples
    films = pd.DataFrame(
        {
            "study_id": samples["study_id"].to_numpy(),
            "film_path": samples.get("film_path", samples["image_path"]).to_numpy(),
            "label": torch.cat(labels).numpy(),
            **{name: torch.cat(values).numpy() for name, values in columns.items()},
        }
    )
    rows = []
    for name in columns:
        studies = films.groupby("study_id").agg(label=("label", "max"), high=(name, "max"), mean=(name, "mean"))
        pixel = _pixel_columns(batches, maps[name]) if has_masks else _no_pixel_truth(dataset.positives_without_mask)
        rows.append(
            {
                "score": name,
                "image_auroc": _auroc(films[name], films["label"]),
                **pixel,
                "study_auroc_max": _auroc(studies["high"], studies["label"]),
                "study_auroc_mean": _auroc(studies["mean"], studies["label"]),
            }
        )
    return FilmScores(films, pd.DataFrame(rows), seconds * 1000 / max(len(films), 1))


def _pixel_columns(batches: list[SimpleNamespace], maps: list[torch.Tensor]) -> dict[str, float]:
    """The evaluator's pixel metrics of one score's test maps (scaled together), by column, and the peak's chance."""
    metrics = pixel_metrics()
    for part, anomaly_map in zip(batches, _unit_range_maps(maps), strict=True):
        for metric in metrics:
            metric.update(SimpleNamespace(**vars(part), anomaly_map=anomaly_map))
    (peak,) = (metric for metric in metrics if isinstance(metric, PeakHitRate))
    return {PIXEL_COLUMNS[metric.name]: _value(metric) for metric in metrics} | {"peak_chance": peak.chance()}


def _no_pixel_truth(positives_without_mask: int) -> dict[str, float]:
    """The pixel columns of films without anomaly masks: NaN, every anomalous film without a mask."""
    missing = {column: float("nan") for column in PIXEL_COLUMNS.values()} | {"peak_chance": float("nan")}
    return missing | {"positives_without_mask": positives_without_mask}


def _value(metric: Metric) -> float:
    """A metric's value, NaN where it saw no film with truth."""
    value = metric.compute()
    return float("nan") if value is None else float(value)

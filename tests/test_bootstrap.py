"""Bootstrap intervals in ``anomalib test``: per hand crop, and per film and study scored by their highest crop."""

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from anomalib.engine import Engine
from sklearn.metrics import roc_auc_score

from xray_anomalib.data import Mura
from xray_anomalib.metrics.bootstrap import IntervalPart, highest_per_group, interval_bounds, level_statistics
from xray_anomalib.metrics.evaluator import OPERATING_POINTS
from xray_anomalib.metrics.intervals import auroc_interval, operating_point_interval
from xray_anomalib.registry import build_model

TINY_CAE = {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50}


def _scored(count: int = 80, seed: int = 0) -> SimpleNamespace:
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(count) % 3 == 0).long()
    scores = torch.rand(count, generator=generator) + 0.4 * labels
    return SimpleNamespace(pred_score=scores.reshape(-1, 1), gt_label=labels)  # (B, 1) scores, as PaDiM gives


def test_bootstrap_bounds_are_the_benchmark_s_intervals() -> None:
    batch = _scored()
    labels, scores = batch.gt_label.numpy(), batch.pred_score.reshape(-1).double().numpy()
    bounds = {bound.name: bound for bound in interval_bounds("image_", [("sensitivity", 0.9)])}
    assert len(bounds) == 4  # the ends only: anomalib's own metrics give the values per item
    for bound in bounds.values():
        bound.update(batch)
    auroc = auroc_interval(labels, scores)
    point = operating_point_interval(labels, scores, "sensitivity", 0.9)
    assert bounds["image_AUROC_ci_low"].compute().item() == pytest.approx(auroc.low)
    assert bounds["image_AUROC_ci_high"].compute().item() == pytest.approx(auroc.high)
    assert auroc.low < auroc.value < auroc.high
    assert bounds["image_sensitivity_at_90_specificity_ci_low"].compute().item() == pytest.approx(point.low)
    assert bounds["image_sensitivity_at_90_specificity_ci_high"].compute().item() == pytest.approx(point.high)


def test_the_parts_of_one_statistic_draw_its_replicates_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from xray_anomalib.metrics import bootstrap

    calls = []
    monkeypatch.setattr(bootstrap, "auroc_interval", lambda *args: calls.append(args) or auroc_interval(*args))
    bootstrap._interval_of.cache_clear()
    parts = [IntervalPart(part) for part in ("value", "low", "high")]
    for part in parts:
        part.update(_scored(seed=3))
    value, low, high = (part.compute().item() for part in parts)
    assert len(calls) == 1 and low < value < high
    other = IntervalPart("low")
    other.update(_scored(seed=4))  # other films: a bootstrap of their own
    assert other.compute().item() != low and len(calls) == 2


def test_a_bound_is_nan_on_one_class_and_refuses_an_unknown_rate() -> None:
    bound = IntervalPart("low")
    bound.update(SimpleNamespace(pred_score=torch.rand(6), gt_label=torch.zeros(6, dtype=torch.long)))
    assert torch.isnan(bound.compute())
    with pytest.raises(ValueError, match="rate is one of"):
        IntervalPart("low", rate="precision", target=0.9)


def test_a_group_scores_its_highest_item_and_is_anomalous_when_one_item_is() -> None:
    scores = np.array([0.1, 0.9, 0.4, 0.3, 0.8])
    labels = np.array([0, 1, 0, 0, 0])
    highest, anomalous = highest_per_group(scores, labels, np.array([7, 7, 2, 5, 2]))
    assert highest.tolist() == [0.9, 0.8, 0.3] and anomalous.tolist() == [1, 0, 0]  # groups in order of appearance


def test_film_and_study_statistics_gather_crops_and_ignore_repeated_ones() -> None:
    crops = _scored(120, seed=1)
    films = torch.arange(120) // 2  # two hand crops a film
    studies = films // 3  # three films a study; a study's label is its films' (MURA labels studies)
    labels = (studies % 3 == 0).long()
    batch = SimpleNamespace(pred_score=crops.pred_score, gt_label=labels, film_index=films, study_index=studies)
    frame = pd.DataFrame({"s": batch.pred_score.reshape(-1).numpy(), "y": labels.numpy(), "study": studies.numpy()})
    per_study = frame.groupby("study").agg(s=("s", "max"), y=("y", "max"))
    levels = ("film", "study")
    metrics = {metric.name: metric for level in levels for metric in level_statistics(level, OPERATING_POINTS)}
    assert len(metrics) == 2 * 4 * 3  # AUROC and three operating points, each with its interval, per level
    repeated = SimpleNamespace(**{name: value[:7] for name, value in vars(batch).items()})  # as DDP pads
    for metric in metrics.values():
        metric.update(batch)
        metric.update(repeated)
    expected = auroc_interval(per_study["y"].to_numpy(), per_study["s"].to_numpy().astype(np.float64))
    assert metrics["study_AUROC"].compute().item() == pytest.approx(roc_auc_score(per_study["y"], per_study["s"]))
    assert metrics["study_AUROC_ci_low"].compute().item() == pytest.approx(expected.low)
    assert metrics["study_AUROC_ci_high"].compute().item() == pytest.approx(expected.high)
    point = operating_point_interval(
        per_study["y"].to_numpy(), per_study["s"].to_numpy().astype(np.float64), "specificity", 0.95
    )
    assert metrics["study_specificity_at_95_sensitivity"].compute().item() == pytest.approx(point.value)
    assert metrics["film_AUROC"].compute().item() != pytest.approx(metrics["study_AUROC"].compute().item())
    unnumbered = IntervalPart("value", level="film")
    unnumbered.update(crops)  # a datamodule that does not number films: nothing to gather, NaN
    assert torch.isnan(unnumbered.compute())


@pytest.mark.slow
def test_anomalib_test_scores_films_and_studies_as_the_benchmark_does(
    full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    datamodule = full_datamodule()
    engine = Engine(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    model = build_model("cae", image_size=64, **TINY_CAE)
    engine.fit(model=model, datamodule=datamodule)
    printed = engine.test(model=model, datamodule=datamodule)[0]
    batches = engine.predict(model=model, dataloaders=datamodule.test_dataloader())
    assert batches is not None
    samples = datamodule.test_data.samples
    films = samples["film_path"].nunique()
    assert films < len(samples) and samples["study_id"].nunique() < films  # films of two crops, studies of two films
    crops = pd.DataFrame(
        {
            "image_path": [path for batch in batches for path in batch.image_path],
            "s": torch.cat([batch.pred_score.reshape(-1) for batch in batches]).numpy(),
        }
    ).merge(samples[["image_path", "film_path", "study_id", "study_label"]], on="image_path", validate="1:1")
    assert len(crops) == len(samples)
    for level, key in (("film", "film_path"), ("study", "study_id")):
        grouped = crops.groupby(key).agg(s=("s", "max"), y=("study_label", "max"))
        assert printed[f"{level}_AUROC"] == pytest.approx(roc_auc_score(grouped["y"], grouped["s"]), abs=1e-6)
        interval = operating_point_interval(
            grouped["y"].to_numpy(), grouped["s"].to_numpy().astype(np.float64), "sensitivity", 0.9
        )
        name = f"{level}_sensitivity_at_90_specificity"
        assert (printed[name], printed[f"{name}_ci_low"], printed[f"{name}_ci_high"]) == pytest.approx(
            (interval.value, interval.low, interval.high), abs=1e-6
        )

"""Operating points: sensitivity at a fixed specificity (and back), and an image threshold chosen by a policy."""

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from anomalib.engine import Engine
from sklearn.metrics import roc_curve

from xray_anomalib.data import Mura
from xray_anomalib.metrics.operating_points import (
    OperatingPointThreshold,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from xray_anomalib.post_processing import OperatingPointPostProcessor
from xray_anomalib.registry import build_model

RNG = np.random.default_rng(0)
LABELS = torch.tensor(np.r_[np.zeros(60), np.ones(20)].astype(int))
SCORES = torch.tensor(np.r_[RNG.normal(0, 1, 60), RNG.normal(1.5, 1, 20)]).float()


def _batch(scores: torch.Tensor = SCORES, labels: torch.Tensor = LABELS) -> SimpleNamespace:
    return SimpleNamespace(pred_score=scores, gt_label=labels)


@pytest.mark.parametrize("target", [0.9, 0.95])
def test_sensitivity_at_specificity_is_the_best_roc_point_that_reaches_it(target: float) -> None:
    metric = SensitivityAtSpecificity(target)
    metric.update(_batch())
    false_positive, true_positive, _ = roc_curve(LABELS.numpy(), SCORES.numpy(), drop_intermediate=False)
    expected = true_positive[1 - false_positive >= target].max()
    assert metric.name == f"image_sensitivity_at_{round(target * 100)}_specificity"
    assert float(metric.compute()) == pytest.approx(expected)


def test_column_scores_as_stfpm_and_padim_give_them_are_taken() -> None:
    metric = SensitivityAtSpecificity(0.9)
    metric.update(_batch(SCORES.reshape(-1, 1)))
    flat = SensitivityAtSpecificity(0.9)
    flat.update(_batch())
    assert float(metric.compute()) == float(flat.compute())


def test_specificity_at_sensitivity_and_one_class_is_nan() -> None:
    metric = SpecificityAtSensitivity(0.95)
    metric.update(_batch())
    false_positive, true_positive, _ = roc_curve(LABELS.numpy(), SCORES.numpy(), drop_intermediate=False)
    assert float(metric.compute()) == pytest.approx((1 - false_positive[true_positive >= 0.95]).max())
    assert metric.name == "image_specificity_at_95_sensitivity"
    normal_only = SensitivityAtSpecificity(0.9)
    normal_only.update(_batch(SCORES[:60], LABELS[:60]))
    assert torch.isnan(normal_only.compute())


@pytest.mark.parametrize(("policy", "target"), [("specificity", 0.9), ("specificity", 1.0), ("sensitivity", 0.8)])
def test_a_threshold_policy_holds_on_the_films_it_was_fitted_on(policy: str, target: float) -> None:
    threshold = OperatingPointThreshold(policy, target, strict=False)
    for part in (slice(0, 40), slice(40, 80)):  # two batches
        threshold.update(_batch(SCORES[part], LABELS[part]))
    value = threshold.compute()
    normal, anomalous = SCORES[LABELS == 0], SCORES[LABELS == 1]
    if policy == "specificity":
        assert (normal <= value).float().mean() >= target
        assert (normal < value).float().mean() < target  # the lowest threshold that reaches it
    else:
        assert (anomalous > value).float().mean() >= target
        assert (anomalous > value + 1e-6).float().mean() < target  # the highest threshold that reaches it


def test_a_threshold_policy_without_its_class_is_nan_and_targets_are_checked() -> None:
    threshold = OperatingPointThreshold("sensitivity", 0.9, strict=False)
    threshold.update(_batch(SCORES[:60], LABELS[:60]))
    assert torch.isnan(threshold.compute())
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\]"):
        OperatingPointThreshold("specificity", 1.5)
    with pytest.raises(ValueError, match="'recall' is not a valid ThresholdPolicy"):
        OperatingPointThreshold("recall", 0.9)


def _labels_and_truth(engine: Engine, model: torch.nn.Module, loader: object) -> tuple[np.ndarray, np.ndarray]:
    batches = engine.predict(model=model, dataloaders=loader)
    labels = np.concatenate([batch.pred_label.reshape(-1).numpy() for batch in batches])
    truth = np.concatenate([batch.gt_label.reshape(-1).numpy() for batch in batches])
    return labels.astype(bool), truth.astype(bool)


@pytest.mark.slow
def test_a_trained_model_labels_films_as_its_policy_says(full_datamodule: Callable[..., Mura], tmp_path: Path) -> None:
    """Fitted on the validation crops: at least 90% of their normals are labelled normal, and the checkpoint and the
    deployment settings carry the policy; on the held-back test crops the share stays near the target."""
    post_processor = OperatingPointPostProcessor(policy="specificity", target=0.9)
    model = build_model(
        "cae", image_size=64, channels=[8, 16, 32], bottleneck_channels=32, post_processor=post_processor
    )
    datamodule = full_datamodule()
    engine = Engine(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    engine.fit(model=model, datamodule=datamodule)
    labels, truth = _labels_and_truth(engine, model, datamodule.val_dataloader())
    assert (~labels[~truth]).mean() >= 0.9
    held_back, held_back_truth = _labels_and_truth(engine, model, datamodule.test_dataloader())
    assert 0.6 <= (~held_back[~held_back_truth]).mean() <= 1.0
    settings = model.deployment_settings()
    assert settings is not None
    assert settings.threshold_policy == "specificity >= 0.9 on the validation films"
    checkpoint = torch.load(engine.trainer.checkpoint_callback.best_model_path, weights_only=False)
    reloaded = type(model).load_from_checkpoint(engine.trainer.checkpoint_callback.best_model_path)
    assert torch.equal(reloaded.post_processor.image_threshold, model.post_processor.image_threshold)
    assert "specificity >= 0.9" in checkpoint["xray_deployment"]["threshold_policy"]

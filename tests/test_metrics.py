"""Pixel metrics over the films with truth, inside the body, and what anomalib's test prints with them."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.metrics import PeakHitRate, PixelAUPRO, PixelAUROC, PositivesWithoutMask
from xray_anomalib.registry import build_model


def _batch() -> SimpleNamespace:
    """Three films: a masked anomaly found by the map, a normal film, and an anomaly without a mask."""
    truth = torch.zeros(3, 4, 4, dtype=torch.bool)
    truth[0, 0, 0] = True
    maps = torch.zeros(3, 4, 4)
    maps[0, 0, 0] = 0.9  # on the anomaly
    maps[2, 1, 1] = 1.0  # the unmasked anomaly: its hot pixel would count as a false positive
    body = torch.zeros(3, 4, 4, dtype=torch.bool)
    body[:, :2] = True
    maps[:, 3] = 0.0  # outside the body the map is zero, as our models' maps are
    return SimpleNamespace(
        anomaly_map=maps,
        gt_mask=truth,
        gt_label=torch.tensor([1, 0, 1]),
        gt_mask_known=torch.tensor([True, True, False]),
        hand_mask=body,
    )


def test_films_without_truth_are_left_out_and_counted() -> None:
    batch = _batch()
    whole, in_body, unmasked, peaks = PixelAUROC(), PixelAUROC(in_body=True), PositivesWithoutMask(), PeakHitRate()
    for metric in (whole, in_body, unmasked, peaks):
        metric.update(batch)
    assert whole.compute() == pytest.approx(1.0)  # the unmasked film's hot pixel does not count against the map
    assert in_body.compute() == pytest.approx(1.0)
    assert unmasked.compute() == 1
    assert peaks.compute() == pytest.approx(1.0) and peaks.chance() == pytest.approx(1 / 8)
    counted = PixelAUROC()
    counted.update(SimpleNamespace(**{**vars(batch), "gt_mask_known": None}))  # a batch that says nothing
    assert counted.compute() < 1.0
    assert {metric.name for metric in (whole, in_body, unmasked, peaks)} == {
        "pixel_AUROC",
        "pixel_AUROC_in_body",
        "pixel_positives_without_mask",
        "pixel_peak_hit",
    }


def test_in_body_auroc_ignores_the_easy_background() -> None:
    generator = torch.Generator().manual_seed(0)
    body = torch.zeros(8, 16, 16, dtype=torch.bool)
    body[:, 4:12, 4:12] = True
    truth = torch.zeros_like(body)
    truth[:4, 6:8, 6:8] = True
    maps = torch.rand(8, 16, 16, generator=generator) * body  # random inside the body, zero outside
    batch = SimpleNamespace(anomaly_map=maps, gt_mask=truth, gt_mask_known=torch.ones(8, dtype=torch.bool))
    whole, in_body = PixelAUROC(), PixelAUROC(in_body=True)
    whole.update(batch)
    in_body.update(SimpleNamespace(**vars(batch), hand_mask=body))
    assert whole.compute() > 0.85  # rewarded for the background alone
    assert abs(in_body.compute() - 0.5) < 0.1  # chance, as it is
    aupro = PixelAUPRO()
    aupro.update(batch)
    assert 0.0 <= aupro.compute() <= 1.0
    judged = PixelAUROC(in_body=True)  # a raw model's whole hand mask: the body mask decides what counts
    judged.update(SimpleNamespace(**vars(batch), hand_mask=torch.ones_like(body), body_mask=body))
    assert judged.compute() == pytest.approx(in_body.compute())


def test_anomalib_test_reports_pixel_metrics_when_a_positive_film_has_no_mask(
    synthetic_root: Path, tmp_path: Path
) -> None:
    root = Path(shutil.copytree(synthetic_root, tmp_path / "MURA-v1.1"))
    datamodule = Mura(root=root, image_size=64, mask_dir="masks", eval_batch_size=8)
    datamodule.setup()
    test = datamodule.test_data.samples
    victim = test.loc[(test["study_label"] == 1) & (test["mask_path"] != ""), "mask_path"].iloc[0]
    Path(victim).unlink()
    datamodule = Mura(root=root, image_size=64, mask_dir="masks", eval_batch_size=8)
    model = build_model("cae", image_size=64, channels=[8, 16, 32], bottleneck_channels=32, top_k=50)
    engine = Engine(max_epochs=1, default_root_dir=tmp_path / "run", enable_progress_bar=False, logger=False)
    engine.fit(model=model, datamodule=datamodule)
    (metrics,) = engine.test(model=model, datamodule=datamodule)
    assert metrics["pixel_positives_without_mask"] == 1
    for name in ("pixel_AUROC_in_body", "pixel_AUROC", "pixel_AUPRO", "pixel_peak_hit"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["pixel_AUROC_in_body"] < metrics["pixel_AUROC"]  # the background is easy

"""Heatmap peaks: the measure itself, and trained models pointing at synthetic anomalies far above chance."""

from collections.abc import Callable

import pytest
import torch
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.metrics.localization import PeakHits, peak_hits
from xray_anomalib.registry import build_model


def test_peak_hits_counts_only_anomalous_films_and_knows_chance() -> None:
    maps = torch.zeros(3, 1, 4, 4)
    maps[0, 0, 0, 0] = 1.0  # inside the anomaly
    maps[1, 0, 3, 3] = 1.0  # outside it
    truth = torch.zeros(3, 1, 4, 4, dtype=torch.bool)
    truth[:2, 0, 0, :2] = True  # third film: normal, skipped
    hand = torch.zeros(3, 1, 4, 4)
    hand[:, 0, :2] = 1  # 8 hand pixels, 2 of them anomalous
    hits = peak_hits(maps, truth, hand)
    assert (hits.films, hits.hits) == (2, 1)
    assert hits.hit_rate == 0.5
    assert hits.chance == pytest.approx(0.25)
    assert PeakHits().hit_rate != PeakHits().hit_rate  # nan without films


def test_the_peak_is_sought_inside_the_body() -> None:
    maps = torch.zeros(2, 1, 4, 4)
    maps[:, 0, 3, 3] = 5.0  # the hottest pixel lies outside the body (background of a baseline's map)
    maps[0, 0, 0, 1] = 1.0  # film 0: its hottest body pixel is on the anomaly
    maps[1, 0, 1, 3] = 1.0  # film 1: its hottest body pixel is beside it
    truth = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    truth[:, 0, 0, :2] = True
    hand = torch.zeros(2, 1, 4, 4)
    hand[:, 0, :2] = 1
    hits = peak_hits(maps, truth, hand)
    assert (hits.films, hits.hits) == (2, 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("cae", {"channels": [8, 16, 32], "bottleneck_channels": 32, "lr": 1e-3}),
        ("alphagan", {"channels": [8, 16, 32], "discriminator_channels": [8, 16], "latent_dim": 16, "score": "topk"}),
    ],
)
def test_heatmap_peaks_fall_on_synthetic_anomalies_far_above_chance(
    name: str, args: dict, full_datamodule: Callable[..., Mura], tmp_path
) -> None:
    torch.manual_seed(0)
    model = build_model(name, image_size=64, top_k=50, **args)
    datamodule = full_datamodule()
    Engine(max_epochs=5, default_root_dir=tmp_path, enable_progress_bar=False, logger=False).fit(model, datamodule)
    hits = PeakHits()
    model.eval()
    with torch.no_grad():
        for batch in datamodule.test_dataloader():
            hand = batch.hand_mask.unsqueeze(1).float()
            hits.update(model.model(batch.image, hand).anomaly_map, batch.gt_mask, hand)
    assert hits.films >= 8
    assert hits.hit_rate >= max(0.2, 5 * hits.chance), (hits.hit_rate, hits.chance)

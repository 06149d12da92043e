"""Same seed, same config: the same split and the same scores, run after run (CPU)."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from anomalib.engine import Engine
from lightning.pytorch import seed_everything

from xray_anomalib.benchmark import score_films
from xray_anomalib.data import Mura
from xray_anomalib.registry import build_model

TINY = {
    "cae": {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50},
    "alphagan": {"channels": [8, 16, 32], "discriminator_channels": [8, 16], "latent_dim": 16, "score": "topk"},
}
SCORE_TOLERANCE = 1e-6


def _train_and_score(name: str, datamodule: Mura, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    seed_everything(0)
    model = build_model(name, image_size=64, **TINY[name])
    Engine(max_epochs=2, default_root_dir=folder, enable_progress_bar=False, logger=False).fit(model, datamodule)
    return datamodule.manifest, score_films(model, datamodule).films


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_same_seed_gives_the_same_split_and_scores(
    name: str, full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    first_split, first = _train_and_score(name, full_datamodule(), tmp_path / "first")
    second_split, second = _train_and_score(name, full_datamodule(), tmp_path / "second")
    pd.testing.assert_frame_equal(first_split, second_split)
    assert list(first["film_path"]) == list(second["film_path"])
    scores = [column for column in first.columns if column not in {"study_id", "film_path", "label"}]
    assert scores
    np.testing.assert_allclose(first[scores].to_numpy(float), second[scores].to_numpy(float), atol=SCORE_TOLERANCE)

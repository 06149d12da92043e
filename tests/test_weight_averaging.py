"""The EMA of the weights: what validation sees, what the checkpoint keeps and what the model holds after the fit."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine

from xray_anomalib.callbacks import BestValidationCheckpoint, ExponentialWeightAveraging
from xray_anomalib.data import Mura
from xray_anomalib.registry import build_model

TINY_CAE = {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50, "lr": 0.01}


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_a_decay_outside_zero_to_one_is_refused(decay: float) -> None:
    with pytest.raises(ValueError, match=f"decay must lie strictly between 0 and 1, got {decay}"):
        ExponentialWeightAveraging(decay=decay)


@pytest.mark.slow
def test_the_kept_checkpoint_holds_the_averaged_weights_and_the_model_gets_them(
    full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    averaging = ExponentialWeightAveraging(decay=0.9)
    engine = Engine(
        max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False, callbacks=[averaging]
    )
    model = build_model("cae", image_size=64, **TINY_CAE)
    datamodule = full_datamodule()
    engine.fit(model=model, datamodule=datamodule)
    callback = engine.trainer.checkpoint_callback
    assert isinstance(callback, BestValidationCheckpoint)
    kept = torch.load(callback.best_model_path, map_location="cpu", weights_only=False)
    averaged, raw = kept["state_dict"], kept["current_model_state"]
    weights = [name for name, value in averaged.items() if value.is_floating_point()]
    assert weights and any(not torch.equal(averaged[name], raw[name]) for name in weights)  # an average, not the raw
    in_memory = model.state_dict()
    assert all(torch.equal(in_memory[name], averaged[name]) for name in weights)  # the model scores the average
    bounds = [name for name in averaged if name.startswith("post_processor.")]
    assert bounds and all(torch.isfinite(averaged[name]).all() for name in bounds)
    again_engine = Engine(default_root_dir=tmp_path / "again", enable_progress_bar=False, logger=False)
    again_engine.validate(model=model, datamodule=datamodule)  # the kept weights' thresholds, computed again
    again = model.state_dict()
    assert all(torch.allclose(again[name], averaged[name]) for name in bounds), {
        name: (float(again[name]), float(averaged[name])) for name in bounds
    }

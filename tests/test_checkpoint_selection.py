"""The checkpoint kept is the epoch of the best validation image AUROC; ``last.ckpt`` holds the last epoch."""

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from anomalib.engine import Engine
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from xray_anomalib.callbacks import VALIDATION_AUROC, BestValidationCheckpoint
from xray_anomalib.data import Mura
from xray_anomalib.metrics.image import ImageAUROC
from xray_anomalib.registry import build_model

TINY_CAE = {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50}


class ValidationRecorder(Callback):
    """Records the validation image AUROC of every epoch."""

    def __init__(self) -> None:
        self.aurocs: list[float] = []

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking:
            self.aurocs.append(float(trainer.callback_metrics[VALIDATION_AUROC]))


def test_image_auroc_is_nan_on_one_class_and_anomalib_s_otherwise() -> None:
    metric = ImageAUROC(prefix="val_image_")
    assert metric.name == VALIDATION_AUROC
    metric.update(SimpleNamespace(pred_score=torch.tensor([0.1, 0.4]), gt_label=torch.tensor([0, 0])))
    assert torch.isnan(metric.compute())
    metric.update(SimpleNamespace(pred_score=torch.tensor([0.9, 0.3]), gt_label=torch.tensor([1, 1])))
    assert metric.compute().item() == pytest.approx(0.75)  # 3 of the 4 (normal, anomalous) pairs ranked right


def test_an_undefined_auroc_keeps_the_newest_epoch() -> None:
    callback = BestValidationCheckpoint()
    assert callback.check_monitor_top_k(None, torch.tensor(float("nan")))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("configured", "kept"),
    [
        (ModelCheckpoint(dirpath="runs/weights", filename="model"), BestValidationCheckpoint),
        (ModelCheckpoint(dirpath="runs/weights", monitor="train_loss"), None),
    ],
)
def test_the_default_checkpoint_is_replaced_and_a_user_s_monitored_one_kept(
    configured: ModelCheckpoint, kept: type | None
) -> None:
    model = build_model("cae", image_size=64, **TINY_CAE)
    model._trainer = SimpleNamespace(checkpoint_callback=configured, checkpoint_callbacks=[configured])
    checkpoints = [callback for callback in model.configure_callbacks() if isinstance(callback, ModelCheckpoint)]
    if kept is None:
        assert checkpoints == []
        return
    best, last = checkpoints
    assert isinstance(best, kept)
    assert (best.dirpath, best.filename, best.monitor) == (configured.dirpath, "model", VALIDATION_AUROC)
    assert (last.dirpath, last.filename, last.monitor) == (configured.dirpath, "last", None)


@pytest.mark.slow
def test_training_keeps_the_best_validation_epoch_and_tests_it(
    full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    recorder = ValidationRecorder()
    engine = Engine(
        max_epochs=4, default_root_dir=tmp_path, enable_progress_bar=False, logger=False, callbacks=[recorder]
    )
    model = build_model("cae", image_size=64, **{**TINY_CAE, "lr": 0.01})
    engine.fit(model=model, datamodule=full_datamodule())
    callback = engine.trainer.checkpoint_callback
    assert isinstance(callback, BestValidationCheckpoint)
    assert len(recorder.aurocs) == 4
    best_epoch = max(range(4), key=lambda epoch: (recorder.aurocs[epoch], -epoch)) + 1  # the first of ties
    assert callback.kept_epoch == best_epoch
    assert callback.kept_auroc == pytest.approx(recorder.aurocs[best_epoch - 1])
    folder = Path(callback.best_model_path).parent
    kept = torch.load(folder / "model.ckpt", map_location="cpu", weights_only=False)
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=False)
    assert (kept["epoch"], last["epoch"]) == (best_epoch - 1, 3)
    in_memory = model.state_dict()
    assert all(torch.equal(in_memory[name], value) for name, value in kept["state_dict"].items())

"""The checkpoint kept is the epoch of the best validation image AUROC (or of another figure asked for); ``last.ckpt``
holds the last epoch."""

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from anomalib.engine import Engine
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from xray_anomalib.callbacks import VALIDATION_AUROC, BestValidationCheckpoint, KeptBy
from xray_anomalib.data import Mura
from xray_anomalib.metrics.image import ImageAUROC
from xray_anomalib.registry import build_model

TINY_CAE = {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50}


class ValidationRecorder(Callback):
    """Records a validation figure of every epoch."""

    def __init__(self, name: str = VALIDATION_AUROC) -> None:
        self.name = name
        self.values: list[float] = []

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking:
            self.values.append(float(trainer.callback_metrics[self.name]))


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


def test_a_checkpoint_keeping_another_figure_is_given_anomalib_s_folder_and_a_last_checkpoint(
    tmp_path: Path,
) -> None:
    given = BestValidationCheckpoint(monitor="val_pixel_peak_hit")
    model = build_model("cae", image_size=64, **TINY_CAE)
    model._trainer = SimpleNamespace(
        checkpoint_callback=given, checkpoint_callbacks=[given], default_root_dir=str(tmp_path)
    )
    best, last = [callback for callback in model.configure_callbacks() if isinstance(callback, ModelCheckpoint)]
    folder = tmp_path / "weights" / "lightning"
    assert isinstance(best, BestValidationCheckpoint)
    assert (best.kept_by, best.monitor, Path(best.dirpath), best.filename) == (
        KeptBy.PEAK_HIT,
        "val_pixel_peak_hit",
        folder,
        "model",
    )
    assert (Path(last.dirpath), last.filename, last.monitor) == (folder, "last", None)


def test_an_unknown_figure_is_refused_with_those_that_can_keep_an_epoch() -> None:
    with pytest.raises(ValueError, match="'val_loss' is not a valid KeptBy; expected one of val_image_AUROC, "):
        BestValidationCheckpoint(monitor="val_loss")


@pytest.mark.slow
@pytest.mark.parametrize("kept_by", [KeptBy.IMAGE_AUROC, KeptBy.PIXEL_AUROC_IN_BODY])
def test_training_keeps_the_best_validation_epoch_and_tests_it(
    full_datamodule: Callable[..., Mura], tmp_path: Path, kept_by: KeptBy
) -> None:
    recorder = ValidationRecorder(kept_by.value)
    callbacks = [recorder] if kept_by is KeptBy.IMAGE_AUROC else [recorder, BestValidationCheckpoint(monitor=kept_by)]
    engine = Engine(
        max_epochs=4, default_root_dir=tmp_path, enable_progress_bar=False, logger=False, callbacks=callbacks
    )
    model = build_model("cae", image_size=64, **{**TINY_CAE, "lr": 0.01})
    engine.fit(model=model, datamodule=full_datamodule())
    callback = engine.trainer.checkpoint_callback
    assert isinstance(callback, BestValidationCheckpoint)
    assert callback.kept_by is kept_by
    assert len(recorder.values) == 4
    assert all(0.0 <= value <= 1.0 for value in recorder.values)  # defined: the validation films have masks
    best_epoch = max(range(4), key=lambda epoch: (recorder.values[epoch], -epoch)) + 1  # the first of ties
    assert callback.kept_epoch == best_epoch
    assert callback.kept_figure == pytest.approx(recorder.values[best_epoch - 1])
    folder = Path(callback.best_model_path).parent
    assert folder.parts[-2:] == ("weights", "lightning")
    kept = torch.load(folder / "model.ckpt", map_location="cpu", weights_only=False)
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=False)
    assert (kept["epoch"], last["epoch"]) == (best_epoch - 1, 3)
    in_memory = model.state_dict()
    assert all(torch.equal(in_memory[name], value) for name, value in kept["state_dict"].items())

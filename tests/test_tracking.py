"""Experiment tracking: anomalib's TensorBoard and MLflow loggers get every loss, every metric and the heatmaps."""

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from anomalib.engine import Engine
from anomalib.loggers import AnomalibMLFlowLogger, AnomalibTensorBoardLogger
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from xray_anomalib.data import Mura
from xray_anomalib.models.components.model_card import ModelCard
from xray_anomalib.registry import build_model
from xray_anomalib.utils.class_path import import_class
from xray_anomalib.visualization.film_visualizer import LOGGED_FOLDER

TINY = {
    "cae": {"channels": [8, 16, 32], "bottleneck_channels": 32, "top_k": 50},
    "dcgan": {"channels": [8, 16, 32], "discriminator_channels": [8, 16], "latent_dim": 16},
    "padim": {"pre_trained": False},  # logging does not depend on the weights
}
OVERLAYS = Path(__file__).resolve().parents[1] / "configs" / "overlays"
TEST_METRICS = {"image_AUROC", "image_AUROC_ci_low", "pixel_AUROC_in_body", "pixel_peak_hit"}


@pytest.mark.parametrize(
    ("overlay", "logger_class"), [("tensorboard", AnomalibTensorBoardLogger), ("mlflow", AnomalibMLFlowLogger)]
)
def test_the_overlays_make_anomalib_s_loggers_under_results(
    overlay: str, logger_class: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((OVERLAYS / f"{overlay}.yaml").read_text())["trainer"]["logger"]
    logger = import_class(config["class_path"])(**config["init_args"])
    assert isinstance(logger, logger_class)
    assert Path(logger.save_dir).resolve().is_relative_to(tmp_path / "results")


def _fit_and_test(name: str, logger: object, datamodule: Mura, root: Path) -> Path:
    """Fit and test a tiny model of ``name`` with ``logger``; returns the run folder."""
    engine = Engine(max_epochs=2, default_root_dir=root, enable_progress_bar=False, logger=logger)
    model = build_model(name, image_size=64, **TINY[name])
    engine.fit(model=model, datamodule=datamodule)
    engine.test(model=model, datamodule=datamodule)
    return Path(engine.trainer.default_root_dir)


def _heatmap_names(run: Path) -> set[str]:
    images = run / "images"
    return {f"{LOGGED_FOLDER}/{path.relative_to(images).as_posix()}" for path in images.rglob("*.png")}


def _tensorboard(folder: Path) -> tuple[dict[str, list[float]], set[str]]:
    """Scalars by tag and image tags of every event file in ``folder``."""
    scalars: dict[str, list[float]] = {}
    images: set[str] = set()
    for events in sorted(folder.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"images": 0, "scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(event.value for event in accumulator.Scalars(tag))
        images.update(accumulator.Tags()["images"])
    return scalars, images


@pytest.mark.slow
@pytest.mark.parametrize(("name", "losses"), [("cae", {"train_loss_epoch"}), ("padim", set())])
def test_tensorboard_gets_losses_metrics_and_heatmaps(
    name: str, losses: set[str], full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    logger = AnomalibTensorBoardLogger(save_dir=str(tmp_path / "tensorboard"), name="xray", default_hp_metric=False)
    run = _fit_and_test(name, logger, full_datamodule(), tmp_path / "results")
    scalars, images = _tensorboard(Path(logger.log_dir))
    assert losses | TEST_METRICS | {"val_image_AUROC"} <= scalars.keys()
    card = ModelCard.read(run)
    assert card is not None and card.test is not None
    assert scalars["image_AUROC"][-1] == pytest.approx(card.test["metrics"]["image_AUROC"]["value"])
    assert images == _heatmap_names(run) and images  # every saved heatmap, under its film's path
    assert card.training["logs"] == {"AnomalibTensorBoardLogger": str(Path(logger.log_dir).resolve())}


@pytest.mark.slow
def test_a_local_mlflow_store_gets_losses_metrics_and_heatmaps(
    full_datamodule: Callable[..., Mura], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks to opt in to its file store
    store = tmp_path / "mlruns"
    logger = AnomalibMLFlowLogger(experiment_name="xray-anomalib", save_dir=str(store))
    run = _fit_and_test("dcgan", logger, full_datamodule(), tmp_path / "results")
    client = MlflowClient(f"file:{store}")
    tracked = client.get_run(logger.run_id)
    losses = {f"train_{phase}_loss_epoch" for phase in ("discriminator", "generator")}
    assert losses | TEST_METRICS | {"val_image_AUROC"} <= tracked.data.metrics.keys()
    assert tracked.data.params["latent_dim"] == "16"
    artifacts, folders = set(), [LOGGED_FOLDER]
    while folders:
        for entry in client.list_artifacts(logger.run_id, folders.pop()):
            (folders.append if entry.is_dir else artifacts.add)(entry.path)
    assert artifacts == _heatmap_names(run) and artifacts

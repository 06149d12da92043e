"""Every shipped training config names real classes with arguments they take, at one size for model and data."""

import inspect
from pathlib import Path

import pytest
import yaml

from xray_anomalib.utils.class_path import import_class

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted([*REPO.glob("configs/*.yaml"), *REPO.glob("configs/gpu/*.yaml")])
WITH_CALLBACKS = sorted(
    path for path in [*CONFIGS, *REPO.glob("configs/overlays/*.yaml")] if "callbacks:" in path.read_text()
)
"""Training configs and overlays that give the trainer callbacks (a grid's are checked with the grid)."""
NEEDS_TRAINED_MEMBERS = {"ensemble.yaml", "fracatlas_ensemble.yaml"}
"""Configs whose model loads other runs' checkpoints: their arguments are checked, the model is not built."""


def _section(config: dict, key: str) -> tuple[type, dict]:
    return import_class(config[key]["class_path"]), dict(config[key].get("init_args", {}))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: str(path.relative_to(REPO / "configs")))
def test_training_config_is_valid(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    model_class, model_args = _section(config, "model")
    data_class, data_args = _section(config, "data")
    inspect.signature(data_class).bind(**data_args)
    inspect.signature(model_class).bind(**model_args)
    assert model_args.get("image_size", data_args["image_size"]) == data_args["image_size"]
    if path.name in NEEDS_TRAINED_MEMBERS:
        return
    resnet = str(model_args.get("backbone", "")).startswith(("resnet", "wide_resnet"))
    model_class(**({**model_args, "pre_trained": False} if resnet else model_args))  # ResNets would download


@pytest.mark.parametrize("path", WITH_CALLBACKS, ids=lambda path: str(path.relative_to(REPO / "configs")))
def test_trainer_callbacks_of_configs_and_overlays_build(path: Path) -> None:
    callbacks = (yaml.safe_load(path.read_text()).get("trainer") or {}).get("callbacks", [])
    assert callbacks, f"{path} mentions callbacks but lists none"
    for callback in callbacks:
        import_class(callback["class_path"])(**callback.get("init_args", {}))

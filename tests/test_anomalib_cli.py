"""The anomalib CLI, unchanged, trains, tests and exports our plugin with the package installed."""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from films import copy_fracatlas

from xray_anomalib.models.components.model_card import CARD_MARKDOWN, ModelCard

REPO = Path(__file__).resolve().parents[1]
ANOMALIB = shutil.which("anomalib", path=str(Path(sys.executable).parent)) or "anomalib"
TINY_DATA = ["--data.init_args.image_size", "64", "--data.init_args.mask_dir", "masks"]
TINY = [
    *("--model.init_args.channels", "[8, 16, 32]"),
    *("--model.init_args.bottleneck_channels", "32"),
    *("--model.init_args.image_size", "64"),
    *("--model.init_args.top_k", "50"),
    *TINY_DATA,
]


def _anomalib(*args: str, cwd: Path) -> str:
    environment = {**os.environ, "PYTHONPATH": ""}  # no PYTHONPATH games: the installed package must be enough
    result = subprocess.run([ANOMALIB, *args], cwd=cwd, capture_output=True, text=True, env=environment, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


METRIC_ROW = re.compile(r"^\W*((?:image|pixel|film|study)_\w+)\W+(-?[0-9.]+(?:e-?[0-9]+)?|nan)\W*$", re.MULTILINE)


def _printed_metrics(output: str) -> dict[str, float]:
    """The metrics of the table anomalib prints after testing, by name."""
    return {name: float(value) for name, value in METRIC_ROW.findall(output)}


@pytest.mark.slow
def test_train_test_export_with_the_cae_config(synthetic_root: Path, tmp_path: Path) -> None:
    config = str(REPO / "configs" / "cae.yaml")
    data = ["--data.init_args.root", str(synthetic_root), *TINY]
    tensorboard = str(REPO / "configs" / "overlays" / "tensorboard.yaml")
    output = _anomalib(
        "train", "--config", config, "--config", tensorboard, "--trainer.max_epochs", "2", *data, cwd=tmp_path
    )
    trained = _printed_metrics(output)
    for name in ("image_AUROC", "image_F1Score", "pixel_AUROC_in_body", "pixel_AUROC", "pixel_AUPRO"):
        assert 0.0 <= trained[name] <= 1.0, (name, trained)
    assert trained["pixel_positives_without_mask"] == 0  # every synthetic anomaly has its mask
    run = next((tmp_path / "results" / "Cae").glob("*/*/v0"))
    checkpoint = run / "weights" / "lightning" / "model.ckpt"
    assert checkpoint.is_file()
    assert (run / "split_manifest.csv").is_file()
    assert (run / "config.yaml").is_file()  # kept in the run folder though the logger took Lightning's copy
    assert list((tmp_path / "results" / "tensorboard" / "xray" / "version_0").glob("events.out.tfevents.*"))
    card = ModelCard.read(run)
    assert card is not None and card.test is not None and (run / CARD_MARKDOWN).is_file()
    auroc = card.test["metrics"]["image_AUROC"]
    assert auroc["value"] == pytest.approx(trained["image_AUROC"], abs=1e-4) and auroc["low"] <= auroc["high"]
    heatmaps = list((run / "images").rglob("*.png"))
    assert heatmaps and all("patient" in path.relative_to(run / "images").parts[0] for path in heatmaps)
    output = _anomalib("test", "--config", config, *data, "--ckpt_path", str(checkpoint), cwd=tmp_path)
    tested = _printed_metrics(output)
    assert tested.keys() == trained.keys()
    for name, value in trained.items():  # the saved checkpoint scores the test films as the trained model did
        assert tested[name] == pytest.approx(value, abs=1e-4), name
    _anomalib(
        "export",
        "--config",
        config,
        *data,
        "--export_type",
        "openvino",
        "--ckpt_path",
        str(checkpoint),
        "--export_root",
        str(run),
        cwd=tmp_path,
    )
    assert (run / "weights" / "openvino" / "model.xml").is_file()
    assert (run / "weights" / "openvino" / "xray_deployment.json").is_file()  # settings read from the checkpoint
    exported_card = ModelCard.read(run / "weights" / "openvino")
    assert exported_card is not None and exported_card.test == card.test  # the run's test metrics travel along


@pytest.mark.slow
def test_vae_config_trains(synthetic_root: Path, tmp_path: Path) -> None:
    model = ["--model.init_args.channels", "[8, 16, 32]", "--model.init_args.latent_channels", "8"]
    data = ["--data.init_args.root", str(synthetic_root), "--model.init_args.image_size", "64", *TINY_DATA]
    config = str(REPO / "configs" / "vae.yaml")
    output = _anomalib("train", "--config", config, "--trainer.max_epochs", "1", *model, *data, cwd=tmp_path)
    assert "image_AUROC" in output and "pixel_AUROC" in output


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dcgan", "bigan"])  # alpha-GAN's config: tests/test_distributed.py
def test_gan_configs_train(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    model = [
        *("--model.init_args.channels", "[8, 16, 32]"),
        *("--model.init_args.discriminator_channels", "[8, 16]"),
        *("--model.init_args.latent_dim", "16"),
        *("--model.init_args.image_size", "64"),
    ]
    if name != "dcgan":
        model += ["--model.init_args.top_k", "50"]
    data = ["--data.init_args.root", str(synthetic_root), *TINY_DATA]
    config = str(REPO / "configs" / f"{name}.yaml")
    output = _anomalib("train", "--config", config, "--trainer.max_epochs", "1", *model, *data, cwd=tmp_path)
    assert "image_AUROC" in output and "pixel_AUROC" in output
    assert len(list((tmp_path / "results").rglob("model.ckpt"))) == 1


@pytest.mark.slow
def test_ensemble_config_combines_trained_members(
    member_checkpoints: list, synthetic_root: Path, tmp_path: Path
) -> None:
    members = json.dumps(member_checkpoints)
    data = ["--data.init_args.root", str(synthetic_root), "--model.init_args.image_size", "64", *TINY_DATA]
    config = str(REPO / "configs" / "ensemble.yaml")
    output = _anomalib("train", "--config", config, "--model.init_args.members", members, *data, cwd=tmp_path)
    assert "image_AUROC" in output and "pixel_AUROC" in output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "model_args"),
    [("cae", TINY[: TINY.index("--data.init_args.image_size")]), ("padim", ["--model.init_args.image_size", "64"])],
)
def test_the_same_config_trains_the_same_model_twice(
    name: str, model_args: list[str], synthetic_root: Path, tmp_path: Path
) -> None:
    """anomalib's CLI does not apply seed_everything; the models seed themselves, so runs repeat exactly."""
    config = str(REPO / "configs" / f"{name}.yaml")
    data = ["--data.init_args.root", str(synthetic_root), *TINY_DATA, "--trainer.max_epochs", "1"]
    states = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        _anomalib("train", "--config", config, *model_args, *data, cwd=tmp_path / run)
        (checkpoint,) = (tmp_path / run / "results").rglob("model.ckpt")
        states.append(torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"])
    assert states[0].keys() == states[1].keys()
    for key, value in states[0].items():
        torch.testing.assert_close(states[1][key], value, msg=f"{name}: {key} differs between two runs")


@pytest.mark.slow
def test_fracatlas_ensemble_config_combines_what_its_members_configs_leave(
    fracatlas_root: Path, tmp_path: Path
) -> None:
    """The three FracAtlas commands of configs/fracatlas_ensemble.yaml, run as written (default root, member paths)."""
    copy_fracatlas(fracatlas_root, tmp_path / "datasets", fractured=24, normal=48)  # datasets/FracAtlas, the default
    small = ["--data.init_args.image_size", "64", "--model.init_args.image_size", "64"]
    for member in ("fracatlas_reverse_distillation", "fracatlas_patchcore"):
        _anomalib(
            "train",
            "--config",
            str(REPO / "configs" / f"{member}.yaml"),
            *small,
            "--trainer.max_epochs",
            "1",
            cwd=tmp_path,
        )
    output = _anomalib("train", "--config", str(REPO / "configs" / "fracatlas_ensemble.yaml"), *small, cwd=tmp_path)
    for name in ("image_AUROC", "pixel_AUROC_in_body", "pixel_peak_hit"):
        assert name in output, name
    assert len(list((tmp_path / "results" / "ModelEnsemble").rglob("model.ckpt"))) == 1


@pytest.mark.slow
def test_fracatlas_config_trains_and_prints_pixel_metrics(fracatlas_copy: Callable[..., Path], tmp_path: Path) -> None:
    root = fracatlas_copy(fractured=24, normal=48)  # 11 fractured films without implants
    table = pd.read_csv(root / "dataset.csv")
    copied = table[table["fractured"] == 0].iloc[[0]].assign(image_id="IMG9000000.jpg")  # a film published twice
    films = root / "images" / "Non_fractured"
    shutil.copy(films / table.loc[copied.index[0], "image_id"], films / "IMG9000000.jpg")
    pd.concat([table, copied]).to_csv(root / "dataset.csv", index=False)
    config = str(REPO / "configs" / "fracatlas_cae.yaml")
    data = [
        *("--data.init_args.root", str(root), "--data.init_args.cache_dir", str(tmp_path / "cache")),
        *("--data.init_args.image_size", "64", "--model.init_args.image_size", "64"),
        *("--model.init_args.channels", "[8, 16, 32]", "--model.init_args.bottleneck_channels", "32"),
    ]
    output = _anomalib("train", "--config", config, "--trainer.max_epochs", "1", *data, cwd=tmp_path)
    for name in ("image_AUROC", "pixel_AUROC_in_body", "pixel_AUPRO", "pixel_peak_hit", "pixel_positives_without_mask"):
        assert name in output, name
    run = tmp_path / "results" / "Cae" / root.name / "all_no_implants" / "v0"
    manifest = pd.read_csv(run / "split_manifest.csv")
    assert (manifest["patient_source"] == "film").all() and manifest["hardware"].eq(0).all()
    assert pd.read_csv(run / "duplicate_films.csv")["image_path"].str.endswith("IMG9000000.jpg").tolist() == [True]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dfm", "stfpm"])  # PatchCore's config: tests/test_distributed.py
def test_pretrained_baseline_configs_train_offline(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    """The baselines' configs train with the packaged ImageNet backbone and report the X-ray metrics."""
    config = str(REPO / "configs" / f"{name}.yaml")
    data = ["--data.init_args.root", str(synthetic_root), *TINY_DATA, "--model.init_args.image_size", "64"]
    output = _anomalib("train", "--config", config, "--trainer.max_epochs", "1", *data, cwd=tmp_path)
    metrics = _printed_metrics(output)
    assert 0.0 <= metrics["image_AUROC"] <= 1.0 and 0.0 <= metrics["pixel_AUROC_in_body"] <= 1.0


@pytest.mark.slow
def test_blendseg_config_trains_and_prints_its_maps_metrics(synthetic_root: Path, tmp_path: Path) -> None:
    config = str(REPO / "configs" / "blendseg.yaml")
    model = [*("--model.init_args.channels", "[8, 16]"), *("--model.init_args.image_size", "64")]
    data = ["--data.init_args.root", str(synthetic_root), *TINY_DATA]
    output = _anomalib("train", "--config", config, "--trainer.max_epochs", "1", *model, *data, cwd=tmp_path)
    metrics = _printed_metrics(output)
    assert 0.0 <= metrics["image_AUROC"] <= 1.0 and 0.0 <= metrics["pixel_AUROC_in_body"] <= 1.0
    (checkpoint,) = (tmp_path / "results").rglob("model.ckpt")
    hyperparameters = torch.load(checkpoint, map_location="cpu", weights_only=False)["hyper_parameters"]
    assert hyperparameters["channels"] == [8, 16] and hyperparameters["patch_size"] == [0.06, 0.3]


@pytest.mark.slow
@pytest.mark.parametrize("traceback", [False, True])
def test_our_errors_reach_the_user_alone(tmp_path: Path, traceback: bool) -> None:
    """A wrong MURA root through ``anomalib train`` is one line, not last under some 170 lines of traceback."""
    environment = {**os.environ, "XRAY_ANOMALIB_TRACEBACK": "1" if traceback else "0"}
    args = ["train", "--config", str(REPO / "configs" / "cae.yaml"), "--data.init_args.root", str(tmp_path / "no")]
    result = subprocess.run([ANOMALIB, *args], cwd=tmp_path, capture_output=True, text=True, env=environment)
    assert result.returncode == 1
    message = f"MURA root {tmp_path / 'no'} does not exist or is not a folder."
    lines = result.stderr.strip().splitlines()
    if traceback:
        assert "Traceback" in result.stderr and "anomalib: error:" not in result.stderr  # rich's, as before
    else:
        assert "Traceback" not in result.stderr
        assert lines[-2:] == [
            f"anomalib: error: {message}",
            "(raised by xray-anomalib; XRAY_ANOMALIB_TRACEBACK=1 shows the traceback)",
        ]


def _train_cae_with_overlay(overlay: str, epochs: int, synthetic_root: Path, folder: Path) -> str:
    """``anomalib train`` of the CAE config with an overlay of ``configs/overlays`` on tiny data; its output."""
    configs = ["--config", str(REPO / "configs" / "cae.yaml")]
    configs += ["--config", str(REPO / "configs" / "overlays" / overlay)]
    data = ["--data.init_args.root", str(synthetic_root), *TINY]
    return _anomalib("train", *configs, "--trainer.max_epochs", str(epochs), *data, cwd=folder)


@pytest.mark.slow
def test_the_keep_epoch_overlay_keeps_the_epoch_of_the_best_peak_in_anomalib_s_folder(
    synthetic_root: Path, tmp_path: Path
) -> None:
    _train_cae_with_overlay("keep_epoch_by_peak.yaml", 2, synthetic_root, tmp_path)
    run = next((tmp_path / "results" / "Cae").glob("*/*/v0"))
    kept = torch.load(run / "weights" / "lightning" / "model.ckpt", weights_only=False)
    assert (run / "weights" / "lightning" / "last.ckpt").is_file()
    callback = next(state for name, state in kept["callbacks"].items() if "BestValidationCheckpoint" in name)
    assert callback["monitor"] == "val_pixel_peak_hit"
    card = ModelCard.read(run)
    assert card is not None and card.training["selected_by"] == "the best validation heatmap peak on the anomaly"


@pytest.mark.slow
def test_the_threshold_overlay_sets_the_policy_and_test_prints_operating_points(
    synthetic_root: Path, tmp_path: Path
) -> None:
    output = _train_cae_with_overlay("threshold_specificity95.yaml", 1, synthetic_root, tmp_path)
    printed = _printed_metrics(output)
    points = ("sensitivity_at_90_specificity", "sensitivity_at_95_specificity", "specificity_at_95_sensitivity")
    for name in (f"{level}_{point}" for level in ("image", "film", "study") for point in points):
        assert 0.0 <= printed[name] <= 1.0, (name, printed)
    checkpoint = next((tmp_path / "results" / "Cae").glob("*/*/v0/weights/lightning/model.ckpt"))
    settings = torch.load(checkpoint, weights_only=False)["xray_deployment"]
    assert settings["threshold_policy"] == "specificity >= 0.95 on the validation films"

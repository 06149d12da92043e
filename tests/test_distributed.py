"""Lightning DDP on CPU (2 processes, gloo) through the anomalib CLI: one run folder, one checkpoint, and the
same quality as a one-process run of the same config on the same split. One model of each kind runs here (a
network, the adversarial training, a memory bank); the others share their code paths."""

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from anomalib.engine import Engine
from lightning.pytorch import seed_everything

from xray_anomalib.benchmark import score_films
from xray_anomalib.data import Mura
from xray_anomalib.deploy.backends import load_checkpoint
from xray_anomalib.registry import build_model

REPO = Path(__file__).resolve().parents[1]
ANOMALIB = shutil.which("anomalib", path=str(Path(sys.executable).parent)) or "anomalib"
TINY_GAN = {"channels": [8, 16, 32], "discriminator_channels": [8, 16], "latent_dim": 16, "top_k": 50}
MODELS = {  # registry name -> (tiny init args, largest image AUROC gap to one process): one model of each kind
    # a trained network: two processes double the effective batch, so two epochs take other steps
    "cae": ({"channels": [8, 16, 32], "bottleneck_channels": 32, "top_k": 50}, 0.15),
    # four optimisers, phases that leave networks unused, a combined score fitted on gathered validation scores
    "alphagan": (TINY_GAN, 0.15),
    # a memory bank (the packaged pretrained features): the same features gathered from both processes (repeats do
    # not change the coreset)
    "patchcore": ({"coreset_sampling_ratio": 0.1}, 0.01),
}


def _image_auroc(model: torch.nn.Module, datamodule: Mura) -> float:
    metrics = score_films(model, datamodule).metrics
    return float(metrics.loc[metrics["score"] == metrics["score"].iloc[0], "image_auroc"].iloc[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_ddp_on_two_cpu_processes(
    name: str, synthetic_root: Path, full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    args, tolerance = MODELS[name]
    cache = tmp_path / "cache"
    options = [f"--model.init_args.{key}={value}" for key, value in {**args, "image_size": 64}.items()]
    data = ["--data.init_args.root", str(synthetic_root), "--data.init_args.image_size", "64"]
    data += ["--data.init_args.mask_dir", "masks", "--data.init_args.cache_dir", str(cache)]
    trainer = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    trainer += ["--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false"]
    config = str(REPO / "configs" / f"{name}.yaml")
    result = subprocess.run(
        [ANOMALIB, "train", "--config", config, *options, *data, *trainer],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "image_AUROC" in output and "pixel_AUROC_in_body" in output
    (runs,) = (tmp_path / "results").glob("*/MURA-v1.1/xr_hand")
    assert sorted(path.name for path in runs.iterdir()) == ["latest", "v0"]  # one folder for both processes
    assert (runs / "latest").resolve() == (runs / "v0").resolve()
    assert (runs / "v0" / "split_manifest.csv").is_file()
    distributed, _ = load_checkpoint(runs / "v0" / "weights" / "lightning" / "model.ckpt")

    seed_everything(0)
    single = build_model(name, image_size=64, **_config_args(name), **args)
    engine = Engine(max_epochs=2, default_root_dir=tmp_path / "single", enable_progress_bar=False, logger=False)
    engine.fit(model=single, datamodule=full_datamodule(cache_dir=cache, train_batch_size=16))
    datamodule = full_datamodule(cache_dir=cache)
    datamodule.setup()
    aurocs = _image_auroc(distributed, datamodule), _image_auroc(single, datamodule)
    print(f"{name}: image AUROC with DDP {aurocs[0]:.3f}, one process {aurocs[1]:.3f}")  # for docs/reliability.md
    assert abs(aurocs[0] - aurocs[1]) <= tolerance


def _config_args(name: str) -> dict:
    """The config's own init args (those not shrunk by the test)."""
    config = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())
    return {
        key: value for key, value in config["model"]["init_args"].items() if key not in {*MODELS[name][0], "image_size"}
    }


@pytest.mark.slow
def test_ensemble_config_under_ddp_runs_in_one_process(
    synthetic_root: Path, member_checkpoints: list, tmp_path: Path
) -> None:
    """The ensemble trains nothing (DDP refuses such a module), so it replaces ddp by one process, and says so."""
    members = yaml.safe_dump(member_checkpoints, default_flow_style=True).strip()
    result = subprocess.run(
        [
            ANOMALIB,
            "train",
            "--config",
            str(REPO / "configs" / "ensemble.yaml"),
            *("--model.init_args.members", members, "--model.init_args.image_size", "64"),
            *("--data.init_args.root", str(synthetic_root), "--data.init_args.image_size", "64"),
            *("--data.init_args.mask_dir", "masks", "--data.init_args.cache_dir", str(tmp_path / "cache")),
            *("--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Overriding strategy from ddp with auto" in output
    assert "image_AUROC" in output

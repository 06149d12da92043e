"""Killed runs resume: training from its last checkpoint with the same split, the benchmark from its finished
runs, the preprocessing cache from its finished films. Each test kills a real process with SIGKILL."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.utils.atomic import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ANOMALIB = shutil.which("anomalib", path=str(BIN)) or "anomalib"
XRAY = shutil.which("xray-anomalib", path=str(BIN)) or "xray-anomalib"
TINY_CAE = {"channels": [8, 16, 32], "bottleneck_channels": 32, "image_size": 64, "top_k": 50}


def _kill_when(command: list[str], cwd: Path, ready: callable, timeout: float = 300) -> None:
    """Start ``command``, SIGKILL it once ``ready()`` is true, and check that it was still running then."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"{command[0]} ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting to kill"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _config(synthetic_root: Path, folder: Path, max_epochs: int) -> Path:
    config = yaml.safe_load((REPO / "configs" / "cae.yaml").read_text())
    config["trainer"] |= {"max_epochs": max_epochs, "default_root_dir": str(folder / "results")}
    config["trainer"]["enable_progress_bar"] = False
    config["model"]["init_args"] |= TINY_CAE
    config["data"]["init_args"] |= {
        "root": str(synthetic_root),
        "image_size": 64,
        "mask_dir": "masks",
        "cache_dir": str(folder / "cache"),
    }
    path = folder / f"cae_{max_epochs}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_killed_training_resumes_from_its_checkpoint_with_the_same_split(synthetic_root: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "results" / "Cae" / "MURA-v1.1" / "xr_hand" / "v0" / "weights" / "lightning" / "last.ckpt"
    started = {}

    def second_epoch_running() -> bool:  # the first checkpoint is written, and the next epoch has begun
        if checkpoint.is_file() and "at" not in started:
            started["at"] = time.monotonic()
        return "at" in started and time.monotonic() - started["at"] > 1.0

    _kill_when(
        [ANOMALIB, "train", "--config", str(_config(synthetic_root, tmp_path, 40))], tmp_path, second_epoch_running
    )
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    epochs = saved["epoch"] + 3
    resumed = _config(synthetic_root, tmp_path, epochs)
    output = _run([ANOMALIB, "train", "--config", str(resumed), "--ckpt_path", str(checkpoint)], tmp_path)
    assert "image_AUROC" in output
    runs = tmp_path / "results" / "Cae" / "MURA-v1.1" / "xr_hand"
    final = torch.load(runs / "v1" / "weights" / "lightning" / "last.ckpt", map_location="cpu", weights_only=False)
    steps_per_epoch = saved["global_step"] // (saved["epoch"] + 1)
    assert final["global_step"] == epochs * steps_per_epoch  # every epoch trained once, none lost or repeated
    first, second = (pd.read_csv(runs / version / "split_manifest.csv") for version in ("v0", "v1"))
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.slow
def test_killed_benchmark_keeps_finished_runs_and_completes(synthetic_root: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "configs" / "benchmark" / "tiny.yaml").read_text())
    config["output"] = str(tmp_path / "grid")
    config["seeds"] = [0]
    config["models"] = [model for model in config["models"] if model["name"] == "cae"]
    config["data"] |= {"synthetic_root": str(tmp_path / "synthetic"), "cache_dir": str(tmp_path / "cache")}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(config))
    results = tmp_path / "grid" / "runs"
    _kill_when([XRAY, "benchmark", "--config", str(path)], tmp_path, lambda: any(results.glob("*/result.json")))
    (finished,) = results.glob("*/result.json")
    mtime = finished.stat().st_mtime_ns
    _run([XRAY, "benchmark", "--config", str(path)], tmp_path)
    assert finished.stat().st_mtime_ns == mtime  # the finished run was not redone
    runs = pd.read_csv(tmp_path / "grid" / "runs.csv")
    assert set(runs["status"]) == {"ok"}
    assert runs["variant"].nunique() == len(config["variants"])


@pytest.mark.slow
def test_killed_preprocessing_resumes_without_redoing_films(synthetic_root: Path, tmp_path: Path) -> None:
    config = _config(synthetic_root, tmp_path, 1)
    records = tmp_path / "cache"

    def some_films_done() -> bool:
        return len(list(records.rglob("*.json"))) > 10

    _kill_when([XRAY, "preprocess", "--config", str(config)], tmp_path, some_films_done)
    done = {path: path.stat().st_mtime_ns for path in records.rglob("*.json") if path.name != "settings.json"}
    _run([XRAY, "preprocess", "--config", str(config)], tmp_path)
    after = {path: path.stat().st_mtime_ns for path in records.rglob("*.json") if path.name != "settings.json"}
    assert all(after[path] == mtime for path, mtime in done.items())  # finished films are not processed again
    assert len(after) == len(read_mura_index(synthetic_root, mura_parts=["train"]))  # every film recorded


def test_interrupted_marker_write_keeps_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = write_text_atomic(tmp_path / "result.json", '{"status": "ok"}')

    def killed(_descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("xray_anomalib.utils.atomic.os.fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(marker, '{"status": "failed", "error": "' + "x" * 100_000 + '"}')
    assert marker.read_text() == '{"status": "ok"}'  # never a half-written marker
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]  # no partial file left behind

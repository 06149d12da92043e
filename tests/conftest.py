"""Shared fixtures: a tiny synthetic MURA root, and the real data beside the project when present.

Tests of the real data skip when ``../shared/data`` is absent (a user's clone); with
``XRAY_ANOMALIB_REQUIRE_SHARED_DATA=1`` (set by ``.ci/run``, where the data is always there) they fail instead.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # parallel workers (pytest -n N) share the cores: one thread each
    os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported, and for the CLI processes the tests start
from collections.abc import Callable
from pathlib import Path

import pytest
from films import copy_fracatlas

from xray_anomalib.data import Mura
from xray_anomalib.data.synthetic import write_synthetic_mura
from xray_anomalib.film_pipeline import PreprocessingSettings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MURA_CSV = SHARED_DATA / "mura-v1.1-csv"
MURA_SAMPLES = SHARED_DATA / "mura-hand-samples"
FRACATLAS = SHARED_DATA / "fracatlas-lower"
RSNA_HANDS = SHARED_DATA / "rsna-hands" / "images"
REQUIRE_SHARED_DATA = os.environ.get("XRAY_ANOMALIB_REQUIRE_SHARED_DATA") == "1"


def require_shared_data(present: bool, what: str, where: Path) -> None:
    """Skip the test when ``what`` is not at ``where``, or fail when the environment requires the shared data."""
    if present:
        return
    reason = f"{what} not found at {where} (../shared/data is absent in a user's clone)"
    if REQUIRE_SHARED_DATA:
        pytest.fail(f"{reason}; XRAY_ANOMALIB_REQUIRE_SHARED_DATA=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic MURA-v1.1 root (40 patients, 64 px films), written once per session."""
    return write_synthetic_mura(
        tmp_path_factory.mktemp("synthetic") / "MURA-v1.1", n_patients=40, seed=3, longest_side=64
    )


@pytest.fixture
def mura_csv_root() -> Path:
    """The official MURA v1.1 CSVs in ../shared/data (skips when absent)."""
    require_shared_data(MURA_CSV.is_dir(), "real MURA CSVs", MURA_CSV)
    return MURA_CSV


@pytest.fixture
def fracatlas_root() -> Path:
    """The FracAtlas leg, hip and shoulder films in ../shared/data (skips when absent)."""
    require_shared_data((FRACATLAS / "dataset.csv").is_file(), "FracAtlas films", FRACATLAS)
    return FRACATLAS


@pytest.fixture
def fracatlas_copy(fracatlas_root: Path, tmp_path: Path) -> Callable[..., Path]:
    """Factory of small FracAtlas copies in ``tmp_path`` (first fractured and normal films; counts as kwargs)."""
    return lambda **counts: copy_fracatlas(fracatlas_root, tmp_path / "sample", **counts)


@pytest.fixture
def mura_hand_films() -> list[Path]:
    """The three real MURA hand films in ../shared/data (skips when absent)."""
    films = sorted(MURA_SAMPLES.glob("*.png"))
    require_shared_data(bool(films), "real MURA films", MURA_SAMPLES)
    return films


@pytest.fixture(scope="session")
def preprocessed_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One preprocessing cache folder shared by the tests of a session."""
    return tmp_path_factory.mktemp("preprocessed")


@pytest.fixture
def full_datamodule(synthetic_root: Path, preprocessed_cache: Path) -> Callable[..., Mura]:
    """Factory of 64 px datamodules on the tiny synthetic root, full preprocessing, anomaly masks; kwargs override."""

    def make(**overrides: object) -> Mura:
        settings = {
            "root": synthetic_root,
            "image_size": 64,
            "train_batch_size": 8,
            "eval_batch_size": 8,
            "mask_dir": "masks",
            "preprocessing": PreprocessingSettings("full"),
            "cache_dir": preprocessed_cache,
        }
        return Mura(**{**settings, **overrides})

    return make


MEMBER_ARGS = {
    "cae": {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50, "image_size": 64},
    "vae": {"channels": [8, 16, 32], "latent_channels": 8, "score": "mse", "image_size": 64},
    "patchcore": {  # a baseline scored in the body: its export takes the hand mask with a batch of one
        "backbone": "resnet18",
        "pre_trained": False,
        "coreset_sampling_ratio": 0.05,
        "score_in_body": True,
        "mask_margin": 2,
        "image_size": 64,
    },
}


@pytest.fixture(scope="session")
def trained_members(
    synthetic_root: Path, preprocessed_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    """Ensemble members trained for one epoch at 64 px: a tiny CAE, a tiny VAE and a PatchCore, by model name."""
    from anomalib.engine import Engine

    from xray_anomalib.registry import build_model

    members = {}
    for name, args in MEMBER_ARGS.items():
        root = tmp_path_factory.mktemp(f"member_{name}")
        datamodule = Mura(
            root=synthetic_root, image_size=64, mask_dir="masks", cache_dir=preprocessed_cache, eval_batch_size=8
        )
        engine = Engine(max_epochs=1, default_root_dir=root, enable_progress_bar=False, logger=False)
        engine.fit(model=build_model(name, **args), datamodule=datamodule)
        members[name] = {"model": name, "checkpoint": engine.trainer.checkpoint_callback.best_model_path}
    return members


@pytest.fixture
def member_checkpoints(trained_members: dict[str, dict[str, str]]) -> list:
    """A tiny CAE's and a tiny VAE's checkpoints (ensemble members of two plugins)."""
    return [trained_members["cae"], trained_members["vae"]]

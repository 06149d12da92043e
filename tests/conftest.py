"""Shared fixtures: a tiny synthetic MURA root, and the real data beside the project when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from xray_anomalib.data.synthetic import write_synthetic_mura

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MURA_CSV = SHARED_DATA / "mura-v1.1-csv"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic MURA-v1.1 root (40 patients, 64 px films), written once per session."""
    return write_synthetic_mura(
        tmp_path_factory.mktemp("synthetic") / "MURA-v1.1", n_patients=40, seed=3, longest_side=64
    )


@pytest.fixture
def mura_csv_root() -> Path:
    """The official MURA v1.1 CSVs in ../shared/data (skips when absent)."""
    if not MURA_CSV.is_dir():
        pytest.skip(f"real MURA CSVs not found at {MURA_CSV} (../shared/data is absent in a user's clone)")
    return MURA_CSV

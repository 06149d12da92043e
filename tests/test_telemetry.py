"""OpenVINO's usage telemetry is declined as soon as xray_anomalib is imported: nothing written under ~/intel."""

import subprocess
import sys
from pathlib import Path

import pytest


def _home_after(statement: str, home: Path) -> list[str]:
    home.mkdir()
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    subprocess.run([sys.executable, "-c", statement], env=environment, check=True, capture_output=True)
    return sorted(path.name for path in (home / "intel").glob("*"))


def test_openvino_alone_writes_its_client_id(tmp_path: Path) -> None:
    """What the toolkit prevents: importing OpenVINO without it writes a telemetry client id and statistics."""
    assert "openvino_ga_cid" in _home_after("import openvino", tmp_path / "home")


@pytest.mark.parametrize("statement", ["import xray_anomalib, openvino, nncf", "import xray_anomalib.deploy, openvino"])
def test_importing_the_toolkit_first_declines_telemetry(statement: str, tmp_path: Path) -> None:
    assert (
        _home_after(statement + "; import openvino_telemetry as t; assert not t.Telemetry().consent", tmp_path / "h")
        == []
    )
    assert not (tmp_path / "h" / "intel").exists()

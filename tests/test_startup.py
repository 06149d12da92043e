"""The light commands start without loading torch, Lightning or anomalib (their start-up time is benchmarked)."""

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "lightning", "anomalib", "openvino")


def _modules_after(*argv: str) -> set[str]:
    """The heavy top-level packages loaded by running ``xray-anomalib argv`` in a fresh interpreter."""
    script = (
        "import sys\nfrom xray_anomalib.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{name.split('.')[0] for name in sys.modules}} & {set(HEAVY)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True)
    return set(eval(result.stdout.strip().splitlines()[-1]))  # our own printed list


@pytest.mark.parametrize("argv", [["--help"], ["models"], ["predict", "--help"]])
def test_light_commands_load_no_heavy_package(argv: list[str]) -> None:
    assert _modules_after(*argv) == set()


def test_split_loads_no_heavy_package(mura_csv_root: Path) -> None:
    assert _modules_after("split", str(mura_csv_root)) == set()

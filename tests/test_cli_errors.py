"""Wrong options and broken files end a command with one line naming the problem (exit code 2), no traceback."""

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pytest

from xray_anomalib.cli import main


def _error_line(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """The one stderr line of a command that fails with exit code 2."""
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_corrupt_checkpoint_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"garbage, not a checkpoint")
    line = _error_line(capsys, ["predict", "--model", str(checkpoint), "--input", str(tmp_path)])
    assert line.startswith(f"xray-anomalib predict: error: {checkpoint} is not a readable checkpoint (")


def test_a_checkpoint_that_holds_no_mapping_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    checkpoint = tmp_path / "model.ckpt"
    torch.save([1, 2, 3], checkpoint)
    line = _error_line(capsys, ["predict", "--model", str(checkpoint), "--input", str(tmp_path)])
    assert line.endswith(f"{checkpoint} is not a Lightning checkpoint (it holds a list, not a mapping).")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "is a folder; expected a YAML file such as configs/cae.yaml."),
        ("data: [\n -x", "not valid YAML at line 2, column 4"),
        ("model: {}\n", "has no 'data' section"),
    ],
)
def test_preprocess_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture, content: str, expected: str) -> None:
    config = tmp_path
    if content is not None:
        config = tmp_path / "config.yaml"
        config.write_text(content)
    assert expected in _error_line(capsys, ["preprocess", "--config", str(config)])


@pytest.mark.parametrize("option", ["--workers", "--max-film-side"])
def test_counts_out_of_range_name_the_option(tmp_path: Path, capsys: pytest.CaptureFixture, option: str) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["predict", "--model", str(tmp_path), "--input", str(tmp_path), option, "-1"])
    assert stop.value.code == 2
    assert f'Parser key "{option[2:].replace("-", "_")}"' in capsys.readouterr().err


def _raised(function: Callable[[], object]) -> tuple[BaseException, TracebackType | None]:
    try:
        function()
    except Exception as error:  # the test looks at whatever was raised
        return error, error.__traceback__
    raise AssertionError


def test_errors_raised_on_purpose_are_told_from_bugs(tmp_path: Path) -> None:
    import numpy as np

    from xray_anomalib.data import read_mura_index
    from xray_anomalib.data.split import SplitError
    from xray_anomalib.utils.cli_errors import raised_on_purpose

    assert raised_on_purpose(*_raised(lambda: read_mura_index(tmp_path / "no")))  # a plain error raised by us
    assert raised_on_purpose(SplitError("no patients"), None)  # our own error class
    assert not raised_on_purpose(*_raised(lambda: np.zeros(2).reshape(3)))  # raised inside numpy
    assert not raised_on_purpose(*_raised(lambda: read_mura_index(None)))  # a bug: a TypeError

import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from films import write_dicom

from xray_anomalib.io.films import FilmReadError, read_film


def test_8bit_gray_and_rgb_saved_gray(tmp_path: Path) -> None:
    gray = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "rgb.png"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    for name, channels in (("gray.png", 1), ("rgb.png", 3)):
        film = read_film(tmp_path / name)
        assert film.pixels.shape == (4, 256)
        assert film.bit_depth == 8
        assert film.source_channels == channels
        np.testing.assert_allclose(film.pixels[0], np.arange(256) / 255, atol=1e-6)


def test_16bit_png_keeps_its_range(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 1024).astype(np.uint16).reshape(32, 32)
    cv2.imwrite(str(tmp_path / "ramp16.png"), ramp)
    film = read_film(tmp_path / "ramp16.png")
    assert film.bit_depth == 16
    np.testing.assert_allclose(film.pixels, ramp / 65535, atol=1e-6)
    assert (film.pixels >= 0.999).mean() < 0.01  # anomalib's reader saturates 99.6% of this ramp


def _png_with_sbit(path: Path, pixels: np.ndarray, bits: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width = pixels.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"sBIT", bytes([bits]))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_12bit_film_in_16bit_png_scaled_by_sbit(tmp_path: Path) -> None:
    pixels = np.array([[0, 2048, 4095]], dtype=np.uint16)
    _png_with_sbit(tmp_path / "film12.png", pixels, 12)
    film = read_film(tmp_path / "film12.png")
    assert film.bit_depth == 12
    np.testing.assert_allclose(film.pixels[0], [0, 2048 / 4095, 1.0], atol=1e-6)


def test_dicom_monochrome1_is_inverted_and_rescaled(tmp_path: Path) -> None:
    pixels = np.array([[0, 1000, 4095]], dtype=np.uint16)
    write_dicom(tmp_path / "mono2.dcm", pixels, "MONOCHROME2", slope=2.0, intercept=-100.0)
    write_dicom(tmp_path / "mono1.dcm", pixels, "MONOCHROME1")
    mono2 = read_film(tmp_path / "mono2.dcm")
    np.testing.assert_allclose(mono2.pixels[0], [0, 1000 / 4095, 1.0], atol=1e-5)
    mono1 = read_film(tmp_path / "mono1.dcm")
    assert mono1.inverted_by_header
    np.testing.assert_allclose(mono1.pixels[0], [1.0, 1 - 1000 / 4095, 0.0], atol=1e-5)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "empty"),
        ("text.png", b"this is not an image at all", "not a readable image"),
        ("broken.dcm", b"\x00" * 128 + b"DICM" + b"\x01\x02", "malformed DICOM"),
    ],
)
def test_unreadable_files_name_path_and_problem(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(FilmReadError, match=reason) as error:
        read_film(tmp_path / name)
    assert str(tmp_path / name) in str(error.value)


def test_truncated_png(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "whole.png"), np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(FilmReadError, match=r"cut\.png"):
        read_film(tmp_path / "cut.png")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FilmReadError, match="no such file"):
        read_film(tmp_path / "nope.png")


def test_a_film_above_max_side_is_reduced_by_area_before_conversion(tmp_path: Path) -> None:
    film = np.zeros((400, 300), np.uint16)
    film[:, 150:] = 65535  # left half dark, right half bright
    cv2.imwrite(str(tmp_path / "large.png"), film)
    read = read_film(tmp_path / "large.png", max_side=100)
    assert read.pixels.shape == (100, 75) and read.scale == 0.25 and read.bit_depth == 16
    assert read.pixels[:, :37].max() == 0 and read.pixels[:, 38:].min() == 1  # averaged in blocks, range kept
    assert read_film(tmp_path / "large.png", max_side=400).scale == 1


def test_reading_films_leaves_warnings_already_shown_silenced(tmp_path: Path) -> None:
    """Python shows a warning once per place; reading a film must not reset that (it did, once per training step)."""
    path = tmp_path / "film.png"
    cv2.imwrite(str(path), np.full((8, 8), 100, np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            warnings.warn("shown once", UserWarning, stacklevel=1)
            read_film(path)
    assert len(caught) == 1

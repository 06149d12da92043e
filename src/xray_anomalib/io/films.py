"""Read X-ray films without losing information.

One call, :func:`read_film`, reads 8-bit and 16-bit PNG/JPEG/TIFF (grayscale, or grayscale saved as RGB
as most MURA films are) and DICOM, and returns a float32 film in ``[0, 1]`` scaled by the file's real
bit depth, where anomalib's own reader converts to 8-bit RGB and clips 16-bit films at 255.

Example:
    >>> film = read_film("image1.png")  # doctest: +SKIP
    >>> film.pixels.dtype, film.bit_depth  # doctest: +SKIP
    (dtype('float32'), 8)
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

DICOM_SUFFIXES = (".dcm", ".dicom")
FILM_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", *DICOM_SUFFIXES)
"""File suffixes of the films we read (lower case); DICOM files are also recognised by their preamble."""
MAX_FILM_PIXELS = 2**26  # 8192 x 8192: larger "films" are refused before decoding (decompression bombs)
MAX_FILM_BYTES = 2**29  # 512 MiB, four times an uncompressed 8192 x 8192 16-bit film: larger files are not read
MAX_FILM_SIDE = 2048
"""Longest side a film keeps when it is read for prediction (larger ones are reduced; training reads them whole)."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FilmReadError(OSError):
    """Raised when a film cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"Cannot read film {path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class Film:
    """A film as read from disk.

    Attributes:
        pixels: ``H x W`` float32 array in ``[0, 1]``, bright = dense (bone), as radiologists view it.
        bit_depth: Significant bits of the stored values (8, 10, 12, 16, ...).
        source_channels: Channels in the file (1, 3 or 4); colour films are converted to gray.
        inverted_by_header: True when a DICOM MONOCHROME1 film was inverted on reading.
        scale: ``pixels`` are the stored film resized by this factor (below 1 when reduced on reading).
    """

    pixels: np.ndarray
    bit_depth: int
    source_channels: int
    inverted_by_header: bool = False
    scale: float = 1.0


def file_signature(path: str | Path) -> list[int]:
    """The file's size and modification time (ns): a film whose signature changed is read again.

    Raises:
        FileNotFoundError: When the file does not exist.
    """
    stat = Path(path).stat()
    return [stat.st_size, stat.st_mtime_ns]


def read_film(path: str | Path, max_side: int | None = None) -> Film:
    """Read a film as ``H x W`` float32 in ``[0, 1]``.

    Args:
        path: PNG, JPEG, TIFF or DICOM file.
        max_side: Reduce a film whose longest side is larger to this side (area averaging) as soon as it is
            decoded, before it is converted to float: a 6000 x 6000 film then holds 16 MB instead of 144 MB.

    Returns:
        The film and what was learned about its encoding.

    Raises:
        FilmReadError: When the file is missing, not a regular file, empty or too large, larger than any film by its
            header (checked before decoding), truncated, not an image, or has no pixels.
    """
    path = Path(path)
    if not path.exists():
        raise FilmReadError(path, "no such file")
    if not path.is_file():
        raise FilmReadError(path, "not a regular file (a folder, FIFO, socket or device); not read")
    size = path.stat().st_size
    if size == 0:
        raise FilmReadError(path, "the file is empty (0 bytes)")
    if size > MAX_FILM_BYTES:
        msg = f"the file holds {size} bytes, more than any film ({MAX_FILM_BYTES} at most); not read"
        raise FilmReadError(path, msg)
    data = path.read_bytes()  # read once: format sniffing, sBIT and decoding all use these bytes
    film = _read_dicom(path, data, max_side) if _is_dicom(path, data) else _read_raster(path, data, max_side)
    if film.pixels.size == 0 or not np.isfinite(film.pixels).all():
        raise FilmReadError(path, "the decoded film is empty or holds non-finite values")
    return film


def _is_dicom(path: Path, data: bytes) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES or data[128:132] == b"DICM"


def _reduced(pixels: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """``pixels`` resized by area averaging so that the longest side is at most ``max_side``, and the factor."""
    longest = max(pixels.shape[:2])
    if max_side is None or longest <= max_side:
        return pixels, 1.0
    scale = max_side / longest
    height, width = (max(1, round(side * scale)) for side in pixels.shape[:2])
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA), scale


def _read_raster(path: Path, data: bytes, max_side: int | None) -> Film:
    _check_header_size(path, data)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise FilmReadError(path, f"OpenCV refused to decode it ({str(error).strip().splitlines()[-1]})") from error
    if pixels is None:
        raise FilmReadError(path, "not a readable image (corrupt, truncated, or not an image format OpenCV knows)")
    _check_size(path, pixels.shape[1], pixels.shape[0], "decoded")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    gray = _to_gray(pixels)
    if gray.dtype == np.uint8:
        bit_depth = 8
    elif gray.dtype == np.uint16:
        bit_depth = _png_significant_bits(data) or 16
    else:
        raise FilmReadError(path, f"unsupported pixel type {gray.dtype}; expected 8- or 16-bit integers")
    _check_truncation(path, buffer)
    del pixels  # a colour film's three channels are freed before the gray one is resized
    gray, scale = _reduced(gray, max_side)
    scaled = np.clip(gray.astype(np.float32) / float(2**bit_depth - 1), 0.0, 1.0)
    return Film(pixels=scaled, bit_depth=bit_depth, source_channels=channels, scale=scale)


def _check_size(path: Path, width: int, height: int, stage: str = "not decoded") -> None:
    if width * height > MAX_FILM_PIXELS:
        msg = f"{width}x{height} pixels is larger than any film ({MAX_FILM_PIXELS} pixels at most); {stage}"
        raise FilmReadError(path, msg)


def _check_header_size(path: Path, data: bytes) -> None:
    """Refuse a raster whose header claims more pixels than any film, before anything is decoded.

    Pillow reads only the header of a PNG, JPEG or TIFF (tiled and multi-page ones included) when it opens one.
    Where Pillow cannot read the header, OpenCV decodes the file and the decoded size is checked instead.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:  # a header over Pillow's own limit warns, then is refused below
            width, height = image.size
    except Image.DecompressionBombError as error:  # Pillow's own limit is far above ours
        claimed = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        msg = f"its header claims over {claimed} pixels, larger than any film ({MAX_FILM_PIXELS} at most); not decoded"
        raise FilmReadError(path, msg) from error
    except Exception:  # Pillow cannot read the header; OpenCV decides below
        return
    _check_size(path, width, height)


def _to_gray(pixels: np.ndarray) -> np.ndarray:
    """Keep one channel of a gray film saved as colour; convert a real colour film by luminance."""
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    if pixels.shape[2] == 1 or (
        np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    ):
        return np.ascontiguousarray(pixels[..., 0])
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)


def _png_significant_bits(data: bytes) -> int | None:
    """Return the gray sample depth recorded in a PNG's ``sBIT`` chunk, if any."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"sBIT":
            return data[offset + 8] if offset + 8 < len(data) and data[offset + 8] else None
        if kind in {b"IDAT", b"IEND"}:
            return None
        offset += 12 + length
    return None


def _check_truncation(path: Path, buffer: np.ndarray) -> None:
    """OpenCV decodes some truncated PNGs and JPEGs without an error; catch the common cases."""
    suffix = path.suffix.lower()
    if suffix == ".png" and b"IEND" not in buffer[-32:].tobytes():
        raise FilmReadError(path, "the PNG is truncated (no IEND chunk at its end)")
    if suffix in {".jpg", ".jpeg"} and not buffer[-16:].tobytes().rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise FilmReadError(path, "the JPEG is truncated (no end-of-image marker)")


def _read_dicom(path: Path, data: bytes, max_side: int | None) -> Film:
    import pydicom
    from pydicom.pixels import apply_modality_lut

    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        _check_size(path, int(dataset.get("Columns", 0)), int(dataset.get("Rows", 0)))
        stored = dataset.pixel_array
    except FilmReadError:
        raise
    except Exception as error:  # pydicom raises many kinds on broken files; each means the same to us
        raise FilmReadError(path, f"malformed DICOM ({type(error).__name__}: {error})") from error
    if stored.ndim != 2:
        raise FilmReadError(path, f"expected a single-frame grayscale DICOM, got pixel array of shape {stored.shape}")
    bits = int(dataset.get("BitsStored", stored.dtype.itemsize * 8))
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    values = apply_modality_lut(stored, dataset).astype(np.float64)
    bounds = apply_modality_lut(np.array([low, high], dtype=stored.dtype), dataset).astype(np.float64)
    lowest, highest = float(bounds.min()), float(bounds.max())
    if highest <= lowest:
        raise FilmReadError(path, "the DICOM rescale maps every value to the same intensity")
    scaled = np.clip((values - lowest) / (highest - lowest), 0.0, 1.0).astype(np.float32)
    inverted = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).upper() == "MONOCHROME1"
    if inverted:
        scaled = 1.0 - scaled
    scaled, scale = _reduced(scaled, max_side)  # after the modality LUT, which may not be linear
    return Film(pixels=scaled, bit_depth=bits, source_channels=1, inverted_by_header=inverted, scale=scale)

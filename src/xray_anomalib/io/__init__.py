"""Reading films (PNG, JPEG, TIFF, 16-bit, DICOM) and text files (CSVs, UTF-8) from disk, with clear errors."""

from xray_anomalib.io.films import Film, FilmReadError, read_film
from xray_anomalib.io.text import TextEncodingError, read_utf8

__all__ = ["Film", "FilmReadError", "TextEncodingError", "read_film", "read_utf8"]

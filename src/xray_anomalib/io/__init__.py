"""Reading films (PNG, JPEG, TIFF, 16-bit, DICOM) and text files (CSVs, UTF-8) from disk, with clear errors."""

from xray_anomalib.io.films import Film, FilmReadError, read_film
from xray_anomalib.io.text import ConfigFileError, TextEncodingError, read_utf8, read_yaml

__all__ = ["ConfigFileError", "Film", "FilmReadError", "TextEncodingError", "read_film", "read_utf8", "read_yaml"]

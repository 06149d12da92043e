"""Reading films from disk in every format we accept (PNG, JPEG, TIFF, 16-bit, DICOM), with clear errors."""

from xray_anomalib.io.films import Film, FilmReadError, read_film

__all__ = ["Film", "FilmReadError", "read_film"]

"""MURA data: reader, patient-wise split, film reading, the synthetic default and the datamodule."""

from xray_anomalib.data.dataclasses import XrayBatch, XrayItem
from xray_anomalib.data.datamodule import Mura
from xray_anomalib.data.dataset import MuraDataset
from xray_anomalib.data.film_io import Film, FilmReadError, read_film
from xray_anomalib.data.mura import BODY_PARTS, MuraLayoutError, read_mura_index
from xray_anomalib.data.split import SplitError, SplitMode, patient_wise_split, read_manifest, write_manifest
from xray_anomalib.data.synthetic import write_synthetic_mura

__all__ = [
    "BODY_PARTS",
    "Film",
    "FilmReadError",
    "Mura",
    "MuraDataset",
    "MuraLayoutError",
    "SplitError",
    "SplitMode",
    "XrayBatch",
    "XrayItem",
    "patient_wise_split",
    "read_film",
    "read_manifest",
    "read_mura_index",
    "write_manifest",
    "write_synthetic_mura",
]

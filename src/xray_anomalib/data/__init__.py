"""X-ray data: collection readers, patient-wise split, the synthetic default and the datamodules."""

from xray_anomalib.data.coco import CocoError
from xray_anomalib.data.dataclasses import XrayBatch, XrayItem
from xray_anomalib.data.datamodule import FracAtlas, LabelledFilms, Mura, XrayDataModule
from xray_anomalib.data.dataset import MuraDataset
from xray_anomalib.data.fracatlas import Implants, read_fracatlas_index
from xray_anomalib.data.labelled import read_labelled_index
from xray_anomalib.data.mura import BODY_PARTS, MuraLayoutError, read_mura_index
from xray_anomalib.data.split import SplitError, SplitMode, patient_wise_split, read_manifest, write_manifest
from xray_anomalib.data.synthetic import write_synthetic_mura

__all__ = [
    "BODY_PARTS",
    "CocoError",
    "FracAtlas",
    "Implants",
    "LabelledFilms",
    "Mura",
    "MuraDataset",
    "MuraLayoutError",
    "SplitError",
    "SplitMode",
    "XrayBatch",
    "XrayDataModule",
    "XrayItem",
    "patient_wise_split",
    "read_fracatlas_index",
    "read_labelled_index",
    "read_manifest",
    "read_mura_index",
    "write_manifest",
    "write_synthetic_mura",
]

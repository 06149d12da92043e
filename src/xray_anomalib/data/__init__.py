"""X-ray data: collection readers, patient-wise split, the synthetic default and the datamodules.

The datamodules, the dataset and the batch classes import anomalib (seconds); they are loaded when first used, so
that reading a collection or drawing a split (``xray-anomalib split``) starts at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from xray_anomalib.data.coco import CocoError
from xray_anomalib.data.fracatlas import Implants, ReviewedMetal, read_fracatlas_index, read_metal_review
from xray_anomalib.data.labelled import read_labelled_index
from xray_anomalib.data.mura import BODY_PARTS, MuraLayoutError, read_mura_index
from xray_anomalib.data.split import SplitError, SplitMode, patient_wise_split, read_manifest, write_manifest
from xray_anomalib.data.synthetic import write_synthetic_mura

if TYPE_CHECKING:
    from xray_anomalib.data.dataclasses import XrayBatch, XrayItem
    from xray_anomalib.data.datamodule import FracAtlas, LabelledFilms, Mura, XrayDataModule
    from xray_anomalib.data.dataset import MuraDataset

_ON_FIRST_USE = {
    "XrayBatch": "dataclasses",
    "XrayItem": "dataclasses",
    "FracAtlas": "datamodule",
    "LabelledFilms": "datamodule",
    "Mura": "datamodule",
    "XrayDataModule": "datamodule",
    "MuraDataset": "dataset",
}
"""The names whose modules import anomalib, and those modules."""


def __getattr__(name: str) -> Any:
    """Import a datamodule, dataset or batch class on first use."""
    if name not in _ON_FIRST_USE:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(import_module(f"{__name__}.{_ON_FIRST_USE[name]}"), name)


__all__ = [
    "BODY_PARTS",
    "CocoError",
    "FracAtlas",
    "Implants",
    "LabelledFilms",
    "Mura",
    "MuraDataset",
    "MuraLayoutError",
    "ReviewedMetal",
    "SplitError",
    "SplitMode",
    "XrayBatch",
    "XrayDataModule",
    "XrayItem",
    "patient_wise_split",
    "read_fracatlas_index",
    "read_labelled_index",
    "read_manifest",
    "read_metal_review",
    "read_mura_index",
    "write_manifest",
    "write_synthetic_mura",
]

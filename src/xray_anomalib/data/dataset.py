"""An anomalib dataset over one part of a MURA split."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from anomalib.data.datasets.base.image import AnomalibDataset
from torchvision.transforms.v2 import Transform

from xray_anomalib.data.dataclasses import XrayBatch, XrayItem
from xray_anomalib.data.transforms import ModelInput
from xray_anomalib.io.films import FilmReadError, read_film

logger = logging.getLogger(__name__)


class MuraDataset(AnomalibDataset):
    """Films of one split part, read at full bit depth and letterboxed to a square.

    Each item holds the film as a 3-channel image in ``[0, 1]`` (anomalib's convention; the channels are
    equal), the anomaly mask, the hand mask the model sees (all ones when none is given) and the body mask that
    evaluation reads (the hand mask where the samples give none, and in the ``train`` part, where nothing reads
    it). The part has pixel truth
    (``task == "segmentation"``) when any anomalous film has a mask; an anomalous film without one then gets an
    empty mask and ``gt_mask_known`` False, and pixel metrics leave it out.

    Args:
        samples: Rows of a split manifest with ``image_path``, ``study_id``, ``study_label``, ``mask_path`` and
            ``hand_mask_path`` columns (empty strings where there is no file), and ``film_path`` and
            ``body_mask_path`` (the segmentation, for evaluation) where the items are crops of the film pipeline.
        image_size: Side of the square films after resizing the longest side and padding.
        augmentations: Augmentations applied after letterboxing, to the image and both masks.
        split: ``train``, ``val`` or ``test``.
        film_transform: Transform of the film before letterboxing (equalisation, CLAHE), so that padding never
            enters its statistics.
    """

    def __init__(
        self,
        samples: pd.DataFrame,
        image_size: int = 256,
        augmentations: Transform | None = None,
        split: str = "train",
        film_transform: Transform | None = None,
    ) -> None:
        super().__init__(augmentations=augmentations)
        self.image_size = image_size
        self.film_transform = film_transform
        self.model_input = ModelInput(image_size, film_transform)
        self.reads_body_masks = split != "train"
        frame = samples.assign(split=split, label_index=samples["study_label"].astype(int))
        masked = frame["mask_path"] != ""
        frame["gt_mask_known"] = masked | (frame["label_index"] == 0)
        frame.attrs["task"] = "segmentation" if bool((masked & (frame["label_index"] == 1)).any()) else "classification"
        frame["film_index"] = pd.factorize(frame.get("film_path", frame["image_path"]))[0]
        frame["study_index"] = pd.factorize(frame["study_id"])[0]
        self.samples = frame

    @property
    def positives_without_mask(self) -> int:
        """Anomalous films without an anomaly mask: pixel metrics leave them out."""
        return int((~self.samples["gt_mask_known"]).sum())

    @property
    def collate_fn(self) -> Callable:
        """Collate items into an :class:`XrayBatch`."""
        return XrayBatch.collate

    def __getitem__(self, index: int) -> XrayItem:
        """Read, letterbox and augment one film with its masks."""
        row = self.samples.iloc[index]
        pixels = read_film(row.image_path).pixels
        gt_mask = _read_mask(row.mask_path, pixels.shape)
        hand_mask = _read_mask(row.hand_mask_path, pixels.shape, fill=True)
        body_path = getattr(row, "body_mask_path", "") if self.reads_body_masks else ""
        body_mask = _read_mask(body_path, pixels.shape) if body_path else hand_mask
        image, gt_mask, hand_mask, body_mask = self.model_input(pixels, gt_mask, hand_mask, body_mask)
        if self.augmentations is not None:
            image, gt_mask, hand_mask, body_mask = self.augmentations(image, gt_mask, hand_mask, body_mask)
        has_masks = self.task == "segmentation"
        return XrayItem(
            image=image,
            gt_label=torch.tensor(row.label_index),
            gt_mask=gt_mask if has_masks else None,
            image_path=row.image_path,
            mask_path=row.mask_path if has_masks else None,
            hand_mask=hand_mask,
            body_mask=body_mask,
            gt_mask_known=torch.tensor(bool(row.gt_mask_known)) if has_masks else None,
            film_index=torch.tensor(row.film_index),
            study_index=torch.tensor(row.study_index),
        )


def _read_mask(path: str, shape: tuple[int, int], fill: bool = False) -> np.ndarray:
    """Read a binary mask (nonzero = inside), or return a constant one when ``path`` is empty."""
    if not path:
        return np.full(shape, fill, dtype=bool)
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FilmReadError(path, "mask is not a readable image")
    if mask.shape != shape:
        raise FilmReadError(path, f"mask is {mask.shape[0]}x{mask.shape[1]}, its film {shape[0]}x{shape[1]}")
    return mask > 0


def find_unreadable_films(samples: pd.DataFrame, workers: int = 4) -> pd.DataFrame:
    """Try to read every film and mask of ``samples``; return the ones that fail, with the reason.

    Args:
        samples: Rows with ``image_path``, ``mask_path`` and ``hand_mask_path``.
        workers: Reader threads (OpenCV releases the GIL while decoding).

    Returns:
        A DataFrame with ``image_path`` and ``reason`` per unreadable film (empty when all are fine).
    """

    def check(row: tuple[str, str, str]) -> str:
        image_path, mask_path, hand_mask_path = row
        try:
            shape = read_film(image_path).pixels.shape
            _read_mask(mask_path, shape)
            _read_mask(hand_mask_path, shape)
        except (FilmReadError, OSError, ValueError) as error:
            return str(error)
        return ""

    rows = list(samples[["image_path", "mask_path", "hand_mask_path"]].itertuples(index=False, name=None))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reasons = list(pool.map(check, rows))
    failed = pd.DataFrame({"image_path": samples["image_path"].to_numpy(), "reason": reasons})
    return failed[failed["reason"] != ""].reset_index(drop=True)


def mask_column(samples: pd.DataFrame, root: Path, folder: str | None, only_positive: bool = False) -> list[str]:
    """Paths of masks mirroring ``rel_path`` below ``root/folder`` ("" where absent or not wanted)."""
    if folder is None:
        return [""] * len(samples)
    paths = []
    for rel, label in zip(samples["rel_path"], samples["study_label"], strict=True):
        path = root / folder / rel
        wanted = label == 1 or not only_positive
        paths.append(str(path) if wanted and path.is_file() else "")
    return paths

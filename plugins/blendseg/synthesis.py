"""Self-supervised anomalies made from the films themselves: a patch of another normal film, Poisson-blended in.

In the spirit of FPI and NSA (Schlüter et al. 2022): a patch cut from one normal film of the batch, rescaled, is
blended into another film at another place of its body with OpenCV's seamless cloning (Poisson blending), so the
patch keeps its texture while its borders meet the film without a seam. The label is where the blend changed the
film. The anomalies are the films' own anatomy out of place: no metal, no drawn lines, no lesions (the kinds the
``paint`` command and the synthetic default draw), so a benchmark on those does not reward this training.

Example:
    >>> import torch
    >>> films, masks = torch.rand(4, 1, 64, 64), torch.ones(4, 1, 64, 64)
    >>> blended, labels = PatchBlender(probability=1.0)(films, masks, seed=0)
    >>> blended.shape, labels.shape
    (torch.Size([4, 1, 64, 64]), torch.Size([4, 1, 64, 64]))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

CLONE_MODES = (cv2.NORMAL_CLONE, cv2.MIXED_CLONE)
"""Poisson blending keeps the patch's gradients (normal) or the stronger of patch and film at each pixel (mixed)."""
BODY_MARGIN = 3
"""Pixels along the body's outline that a patch never changes."""
SOURCE_ON_BODY = 0.9
"""Share of body pixels wanted in the source region (a patch of background is no anatomy)."""
MIN_REGION_PIXELS = 16
"""A patch region smaller than this (a body too thin for it) is not blended."""
MIN_REGION_SIDE = 3
"""Nor one whose bounding box is thinner than this (OpenCV's seamless cloning refuses it)."""
DRAWS = 10
"""Boxes drawn to find a source region on the body."""


@dataclass(frozen=True)
class PatchBlender:
    """Blend patches of other films of a batch into its films; return the blended films and their labels.

    Args:
        probability: Chance that a film gets a patch; the others stay normal (label all zero).
        size_range: Patch height and width, each drawn as a fraction of the film's side in this range.
        scale_range: The source region is this factor smaller or larger than the patch it fills (anatomy rescaled).
        label_threshold: A pixel is anomalous where the blend changed it by at least this much (films in ``[0, 1]``).
    """

    probability: float = 0.5
    size_range: tuple[float, float] = (0.06, 0.3)
    scale_range: tuple[float, float] = (0.7, 1.4)
    label_threshold: float = 0.02

    def __post_init__(self) -> None:
        low, high = self.size_range
        if not 0 < low <= high < 1:
            msg = f"size_range must satisfy 0 < low <= high < 1 (fractions of the film's side); got {self.size_range}."
            raise ValueError(msg)
        if not 0 <= self.probability <= 1:
            msg = f"probability must lie in [0, 1]; got {self.probability}."
            raise ValueError(msg)

    def __call__(self, films: torch.Tensor, hand_masks: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Blend patches into some films of a batch.

        Args:
            films: ``(B, 1, H, W)`` gray films in ``[0, 1]``.
            hand_masks: ``(B, 1, H, W)`` 0/1 body masks; patches are cut from and placed on the body.
            seed: Seed of the draws (patch sizes, places, sources, blend modes).

        Returns:
            The blended ``(B, 1, H, W)`` films and ``(B, 1, H, W)`` 0/1 labels (1 where a patch changed the film).
        """
        rng = np.random.default_rng(seed)
        gray = films[:, 0].detach().cpu().numpy()
        masks = hand_masks[:, 0].detach().cpu().numpy() > 0.5
        blended, labels = gray.copy(), np.zeros_like(gray)
        count = gray.shape[0]
        for index in np.flatnonzero(rng.random(count) < self.probability):
            others = [other for other in range(count) if other != index] or [int(index)]
            source = int(rng.choice(others))
            blended[index], labels[index] = self._blend(gray[index], masks[index], gray[source], masks[source], rng)
        as_tensor = lambda array: torch.from_numpy(array).unsqueeze(1).to(films)  # noqa: E731
        return as_tensor(blended), as_tensor(labels)

    def _blend(
        self, film: np.ndarray, mask: np.ndarray, source: np.ndarray, source_mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """One film with one patch of ``source`` blended in, and the film's label.

        The patch is cut from the source's body and blended only into the film's body, eroded by a few pixels:
        a patch across the body's outline would teach the network that outlines are anomalous.
        """
        side = min(film.shape)
        height, width = (max(4, int(side * rng.uniform(*self.size_range))) for _ in range(2))
        scale = rng.uniform(*self.scale_range)
        crop = (
            min(source.shape[0] - 2, max(2, round(height * scale))),
            min(source.shape[1] - 2, max(2, round(width * scale))),
        )
        top, left = _corner_on_body(source_mask, crop, rng, SOURCE_ON_BODY)
        region_of_source = np.ascontiguousarray(source[top : top + crop[0], left : left + crop[1]], dtype=np.float32)
        patch = cv2.resize(region_of_source, (width, height), interpolation=cv2.INTER_LINEAR)
        row, column = _corner_on_body(mask, (height, width), rng)
        region = np.zeros((height, width), np.uint8)
        axes = (max(1, width // 2 - 1), max(1, height // 2 - 1))
        cv2.ellipse(region, (width // 2, height // 2), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        body = cv2.erode(mask.astype(np.uint8), np.ones((2 * BODY_MARGIN + 1,) * 2, np.uint8))
        region &= (body[row : row + height, column : column + width] * 255).astype(np.uint8)
        ys, xs = np.nonzero(region)
        if ys.size < MIN_REGION_PIXELS or min(np.ptp(ys), np.ptp(xs)) < MIN_REGION_SIDE:
            return film, np.zeros_like(film)
        # OpenCV centres the bounding box of the region on the point given, and needs a zero border around it
        rows, columns = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        box = cv2.copyMakeBorder(region[rows, columns], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        patch8 = cv2.copyMakeBorder(_to_bgr8(patch[rows, columns]), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
        centre = (column + columns.start + (box.shape[1] - 2) // 2, row + rows.start + (box.shape[0] - 2) // 2)
        film8 = _to_bgr8(film)
        cloned = cv2.seamlessClone(patch8, film8, box, centre, int(rng.choice(CLONE_MODES)))
        change = (cloned[..., 0].astype(np.float32) - film8[..., 0].astype(np.float32)) / 255.0
        label = (np.abs(change) >= self.label_threshold).astype(film.dtype)
        return np.clip(film + change, 0.0, 1.0), label


def _corner_on_body(
    mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator, min_share: float = 0.0
) -> tuple[int, int]:
    """Top-left corner of a ``size`` box at least one pixel inside the film, centred on the body where it can be.

    Up to :data:`DRAWS` boxes are drawn until one holds at least ``min_share`` of body pixels; else the last drawn.
    """
    height, width = size
    last_row, last_column = mask.shape[0] - height - 1, mask.shape[1] - width - 1  # corners run from 1 to these
    centres = mask[1 + height // 2 : last_row + 1 + height // 2, 1 + width // 2 : last_column + 1 + width // 2]
    rows, columns = np.nonzero(centres)
    if not rows.size:
        return int(rng.integers(1, last_row + 1)), int(rng.integers(1, last_column + 1))
    for _ in range(DRAWS):
        pick = rng.integers(rows.size)
        top, left = int(rows[pick]) + 1, int(columns[pick]) + 1
        if mask[top : top + height, left : left + width].mean() >= min_share:
            break
    return top, left


def _to_bgr8(gray: np.ndarray) -> np.ndarray:
    """A gray ``[0, 1]`` film as the 8-bit three-channel image OpenCV's seamless cloning takes."""
    return cv2.cvtColor(np.round(np.clip(gray, 0.0, 1.0) * 255.0).astype(np.uint8), cv2.COLOR_GRAY2BGR)

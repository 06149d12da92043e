"""Online preprocessing steps as torchvision v2 transforms.

They act on images and masks alike (masks are resized with nearest-neighbour interpolation by
torchvision), so a film's hand mask and anomaly mask stay aligned with it.

The paper's augmentations (flips, rotation, scale) are torchvision's own ``v2.RandomHorizontalFlip``,
``v2.RandomVerticalFlip`` and ``v2.RandomAffine``; the intensity steps here complete them.

Example:
    >>> from torchvision.transforms import v2
    >>> letterbox = v2.Compose([ResizeLongestSide(128), PadToSquare(128)])
    >>> augment = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomAffine(20, scale=(0.8, 1.2))])
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F  # noqa: N812


class ResizeLongestSide(v2.Transform):
    """Resize so that the longer side is ``size`` pixels, keeping the aspect ratio.

    Args:
        size: Pixels of the longer side after resizing.
        antialias: Antialias when shrinking images (masks are never antialiased).
    """

    def __init__(self, size: int, antialias: bool = True) -> None:
        super().__init__()
        self.size = size
        self.antialias = antialias

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Resize one image, mask or bounding box."""
        del params
        height, width = F.get_size(inpt)
        return F.resize(inpt, list(letterboxed_size(height, width, self.size)), antialias=self.antialias)


class PadToSquare(v2.Transform):
    """Zero-pad the bottom and right of an image to ``size x size`` (after :class:`ResizeLongestSide`).

    Padding at the bottom-right keeps film coordinates unchanged, which makes mapping heatmaps back simple.

    Args:
        size: Side of the square output.
        fill: Value of padded pixels.
    """

    def __init__(self, size: int, fill: float = 0.0) -> None:
        super().__init__()
        self.size = size
        self.fill = fill

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Pad one image, mask or bounding box."""
        del params
        height, width = F.get_size(inpt)
        if height > self.size or width > self.size:
            msg = f"PadToSquare({self.size}) got a {height}x{width} input; resize it first (ResizeLongestSide)."
            raise ValueError(msg)
        return F.pad(inpt, [0, 0, self.size - width, self.size - height], fill=self.fill)


def letterboxed_size(height: int, width: int, size: int) -> tuple[int, int]:
    """Height and width of a ``height x width`` image once its longest side is resized to ``size``."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def letterbox(size: int) -> v2.Compose:
    """Resize the longest side to ``size`` and pad to a ``size x size`` square."""
    return v2.Compose([ResizeLongestSide(size), PadToSquare(size)])


class ModelInput:
    """A film (or hand crop) and its masks as a model sees them: equal channels, film transform, letterbox.

    The dataset (training, validation, test) and the predictor (new films) both build their inputs here, so a new
    film meets a model exactly as its training films did.

    Args:
        image_size: Side of the letterboxed square.
        film_transform: Transform of the film before letterboxing (equalisation, CLAHE), so that padding never
            enters its statistics.
    """

    def __init__(self, image_size: int, film_transform: v2.Transform | None = None) -> None:
        self.image_size = image_size
        self.film_transform = film_transform
        self.letterbox = letterbox(image_size)

    def __call__(self, pixels: np.ndarray, *masks: np.ndarray) -> tuple[Any, ...]:
        """``(image, *masks)`` letterboxed: a ``3 x S x S`` image in ``[0, 1]`` and ``S x S`` masks.

        Args:
            pixels: ``H x W`` float film in ``[0, 1]``.
            *masks: ``H x W`` boolean masks aligned with the film.
        """
        image = tv_tensors.Image(torch.from_numpy(pixels).unsqueeze(0).expand(3, -1, -1).contiguous())
        if self.film_transform is not None:
            image = self.film_transform(image)
        return self.letterbox(image, *(tv_tensors.Mask(torch.from_numpy(mask)) for mask in masks))


def _apply_uint16(inpt: Any, operation: Any) -> Any:
    """Run an OpenCV operation on each channel of a float image in ``[0, 1]`` at 16-bit precision."""
    values = inpt.detach().cpu().numpy()
    scaled = np.round(np.clip(values, 0, 1) * 65535).astype(np.uint16)
    result = np.stack([operation(channel) for channel in scaled.reshape(-1, *scaled.shape[-2:])])
    output = torch.from_numpy(result.reshape(scaled.shape).astype(np.float32) / 65535).to(inpt.device)
    return tv_tensors.wrap(output, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else output


class HistogramEqualization(v2.Transform):
    """Histogram equalisation of the film (the paper's online step that helped every autoencoder).

    Works at 16-bit precision on float images in ``[0, 1]`` (OpenCV equalises 8-bit images only, so 16-bit films
    are equalised through their cumulative histogram directly). Masks pass unchanged.
    """

    _transformed_types = (tv_tensors.Image, torch.Tensor)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Equalise one image."""
        del params
        if isinstance(inpt, tv_tensors.Mask):
            return inpt
        return _apply_uint16(inpt, _equalize_uint16)


def _equalize_uint16(channel: np.ndarray) -> np.ndarray:
    histogram = np.bincount(channel.ravel(), minlength=65536)
    cumulative = np.cumsum(histogram).astype(np.float64)
    lowest = cumulative[np.nonzero(histogram)[0][0]]
    span = max(cumulative[-1] - lowest, 1.0)
    lookup = np.clip(np.round((cumulative - lowest) / span * 65535), 0, 65535).astype(np.uint16)
    return lookup[channel]


class Clahe(v2.Transform):
    """Contrast-limited adaptive histogram equalisation (OpenCV, 16-bit). The paper used clip 3, 8 x 8 tiles.

    Args:
        clip_limit: Contrast limit per tile.
        tile_grid: Tiles per side.
    """

    def __init__(self, clip_limit: float = 3.0, tile_grid: int = 8) -> None:
        super().__init__()
        self.clip_limit = clip_limit
        self.tile_grid = tile_grid

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Apply CLAHE to one image."""
        del params
        if isinstance(inpt, tv_tensors.Mask):
            return inpt
        clahe = cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=(self.tile_grid, self.tile_grid))
        return _apply_uint16(inpt, clahe.apply)


class RandomIntensityMultiply(v2.Transform):
    """Multiply intensities by a random factor (the paper's "channel-wise multiplication", 0.8-1.2), then clip.

    Args:
        low: Smallest factor.
        high: Largest factor.
    """

    def __init__(self, low: float = 0.8, high: float = 1.2) -> None:
        super().__init__()
        self.low = low
        self.high = high

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """Draw one factor for all inputs of a call."""
        del flat_inputs
        return {"factor": float(torch.empty(1).uniform_(self.low, self.high))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Scale one image; masks pass unchanged."""
        if isinstance(inpt, tv_tensors.Mask):
            return inpt
        return (inpt * params["factor"]).clamp(0, 1)

"""Online preprocessing steps as torchvision v2 transforms.

They act on images and masks alike (masks are resized with nearest-neighbour interpolation by
torchvision), so a film's hand mask and anomaly mask stay aligned with it.

Example:
    >>> from torchvision.transforms import v2
    >>> letterbox = v2.Compose([ResizeLongestSide(128), PadToSquare(128)])

"""

from __future__ import annotations

from typing import Any

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
        scale = self.size / max(height, width)
        new_size = [max(1, round(height * scale)), max(1, round(width * scale))]
        return F.resize(inpt, new_size, antialias=self.antialias)


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


def letterbox(size: int) -> v2.Compose:
    """Resize the longest side to ``size`` and pad to a ``size x size`` square."""
    return v2.Compose([ResizeLongestSide(size), PadToSquare(size)])


__all__ = ["PadToSquare", "ResizeLongestSide", "letterbox"]

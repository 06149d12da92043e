"""Contact sheets: many films on one PNG, with anomaly outlines, to look at what a dataset holds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from xray_anomalib.data.film_io import read_film


def contact_sheet(
    films: Sequence[str | Path],
    out: str | Path,
    masks: Sequence[str | Path | None] | None = None,
    tile: int = 192,
    columns: int = 6,
) -> Path:
    """Tile films (letterboxed to ``tile`` px) into one PNG, outlining their anomaly masks in red.

    Args:
        films: Film files.
        out: PNG to write.
        masks: One anomaly mask file (or ``None``) per film.
        tile: Side of each tile in pixels.
        columns: Tiles per row.

    Returns:
        The written path.

    """
    masks = list(masks) if masks is not None else [None] * len(films)
    tiles = []
    for film_path, mask_path in zip(films, masks, strict=True):
        pixels = np.round(read_film(film_path).pixels * 255).astype(np.uint8)
        scale = tile / max(pixels.shape)
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        canvas = np.zeros((tile, tile, 3), np.uint8)
        canvas[: size[1], : size[0]] = cv2.cvtColor(
            cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR
        )
        if mask_path:
            mask = cv2.resize(cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE), size, interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(canvas, contours, -1, (0, 0, 255), 1)
        tiles.append(canvas)
    while len(tiles) % columns:
        tiles.append(np.zeros((tile, tile, 3), np.uint8))
    sheet = np.vstack([np.hstack(tiles[start : start + columns]) for start in range(0, len(tiles), columns)])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet)
    return out

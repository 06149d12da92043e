"""Contact sheets: many films on one PNG, with anomaly outlines, to look at what a dataset holds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from xray_anomalib.film_pipeline.pipeline import OfflinePipeline, PreprocessingSettings
from xray_anomalib.io.films import FilmReadError, read_film


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
        pixels = read_film(film_path).pixels
        canvas = _tile(pixels, tile)
        scale = tile / max(pixels.shape)
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        if mask_path:
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            if mask is None:
                raise FilmReadError(str(mask_path), "mask is not a readable image")
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
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


def preprocessing_sheet(
    films: Sequence[str | Path],
    out: str | Path,
    settings: PreprocessingSettings | None = None,
    tile: int = 160,
    body_part: str = "",
) -> Path:
    """One row per film: original | crop | hand mask | final (crop inside the mask), with the pipeline's status.

    Args:
        films: Film files.
        out: PNG to write.
        settings: Pipeline settings (``full`` by default).
        tile: Side of each tile in pixels.
        body_part: The films' body part (it matters for the settings' ``fills_film``).

    Returns:
        The written path.
    """
    pipeline = OfflinePipeline(settings or PreprocessingSettings())
    rows = []
    for path in films:
        film = read_film(path).pixels
        crops, record = pipeline(film, body_part)
        crop = crops[0]
        panels = [film, crop.image, crop.hand_mask.astype(np.float32), crop.image * crop.hand_mask]
        row = np.hstack([_tile(panel, tile) for panel in panels])
        label = f"{Path(path).name[-28:]} {record.status} hands={record.n_hands}"
        cv2.putText(row, label, (4, tile - 6), cv2.FONT_HERSHEY_PLAIN, 0.9, (0, 255, 255), 1, cv2.LINE_AA)
        if record.reasons:
            cv2.putText(
                row, record.reasons[0][:60], (4, 14), cv2.FONT_HERSHEY_PLAIN, 0.9, (0, 128, 255), 1, cv2.LINE_AA
            )
        rows.append(row)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))
    return out


def _tile(pixels: np.ndarray, tile: int) -> np.ndarray:
    """A gray image letterboxed into a ``tile x tile`` BGR square."""
    gray = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    scale = tile / max(gray.shape)
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    canvas = np.zeros((tile, tile, 3), np.uint8)
    canvas[: size[1], : size[0]] = cv2.cvtColor(
        cv2.resize(gray, size, interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR
    )
    return canvas

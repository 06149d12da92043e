"""Anomaly masks from COCO annotations: polygons filled, a box where an annotation has no polygon.

FracAtlas (and many labelled collections) give each finding as a COCO polygon with its box. The masks are drawn
once into PNG files beside the preprocessing cache (the dataset's own folder may be read-only), in a folder keyed
by the annotation file's path, size and modification time, so an edited annotation file draws its masks again.

Example:
    >>> regions = read_coco_regions("Annotations/COCO JSON/COCO_fracture_masks.json")  # doctest: +SKIP
    >>> films = {"IMG0000092.jpg": "images/Fractured/IMG0000092.jpg"}
    >>> paths = write_coco_masks(regions, films, "masks")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from xray_anomalib.io.films import file_signature
from xray_anomalib.utils.atomic import write_bytes_atomic

EDGE_TOLERANCE = 1.0  # pixels a polygon point may stand beyond its film's edge (annotation tools round outward)
_SUBPIXEL_BITS = 4  # cv2.fillPoly's fixed-point precision: polygon points keep 1/16 px


class CocoError(ValueError):
    """Raised when a COCO file is malformed or does not fit its films; the message names the file and the entry."""


@dataclass
class FilmRegions:
    """The annotated regions of one film.

    Attributes:
        file_name: The film's ``file_name`` in the COCO file.
        height: Film height the coordinates refer to.
        width: Film width the coordinates refer to.
        polygons: Polygons as ``N x 2`` arrays of ``(x, y)``.
        boxes: Boxes ``(x, y, width, height)`` of the annotations without a polygon.
    """

    file_name: str
    height: int
    width: int
    polygons: list[np.ndarray] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def mask(self) -> np.ndarray:
        """The regions filled into an ``H x W`` uint8 mask (255 inside)."""
        mask = np.zeros((self.height, self.width), dtype=np.uint8)
        scale = 2**_SUBPIXEL_BITS
        if self.polygons:
            points = [np.round(polygon * scale).astype(np.int32) for polygon in self.polygons]
            cv2.fillPoly(mask, points, 255, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
        for x, y, width, height in self.boxes:
            top_left = (round(x * scale), round(y * scale))
            bottom_right = (round((x + width) * scale), round((y + height) * scale))
            cv2.rectangle(mask, top_left, bottom_right, 255, thickness=-1, shift=_SUBPIXEL_BITS)
        return mask


def read_coco_regions(path: str | Path) -> dict[str, FilmRegions]:
    """Read a COCO instances file into the regions of each annotated film, checking every entry.

    Args:
        path: The COCO JSON file.

    Returns:
        ``file_name -> FilmRegions`` for every image with at least one annotation.

    Raises:
        CocoError: When the file is not JSON, lacks ``images`` or ``annotations``, an annotation names an unknown
            image, or a polygon or box lies outside its film.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        msg = f"COCO file {path} is not readable JSON ({type(error).__name__}: {error})."
        raise CocoError(msg) from error
    if not isinstance(content, dict) or not isinstance(content.get("images"), list):
        msg = f"COCO file {path} has no 'images' list; expected a COCO instances file."
        raise CocoError(msg)
    images = {}
    for number, image in enumerate(content["images"]):
        try:
            images[image["id"]] = FilmRegions(str(image["file_name"]), int(image["height"]), int(image["width"]))
        except (KeyError, TypeError, ValueError) as error:
            msg = f"COCO file {path}: images[{number}] lacks a valid id, file_name, height or width ({error!r})."
            raise CocoError(msg) from error
    for number, annotation in enumerate(content.get("annotations", [])):
        _add_annotation(path, number, annotation, images)
    return {regions.file_name: regions for regions in images.values() if regions.polygons or regions.boxes}


def _add_annotation(path: Path, number: int, annotation: dict, images: dict) -> None:
    where = f"COCO file {path}: annotations[{number}] (id {annotation.get('id')!r})"
    regions = images.get(annotation.get("image_id"))
    if regions is None:
        msg = f"{where} names image_id {annotation.get('image_id')!r}, which no entry of 'images' has."
        raise CocoError(msg)
    segmentation = annotation.get("segmentation") or []
    if not isinstance(segmentation, list):
        msg = f"{where} of {regions.file_name}: RLE segmentations are not supported; give polygons or a bbox."
        raise CocoError(msg)
    try:
        polygons = [np.asarray(points, dtype=np.float64).reshape(-1, 2) for points in segmentation if points]
        box = tuple(float(value) for value in annotation.get("bbox") or ())
    except (TypeError, ValueError) as error:
        msg = f"{where} of {regions.file_name}: malformed polygon or bbox ({error})."
        raise CocoError(msg) from error
    if not polygons and len(box) != 4:
        msg = f"{where} of {regions.file_name} has neither a polygon nor a 4-value bbox."
        raise CocoError(msg)
    outline = np.concatenate(polygons) if polygons else np.array([box[:2], [box[0] + box[2], box[1] + box[3]]])
    low, high = outline.min(axis=0), outline.max(axis=0)
    if (
        (low < -EDGE_TOLERANCE).any()
        or high[0] > regions.width + EDGE_TOLERANCE
        or high[1] > regions.height + EDGE_TOLERANCE
    ):
        msg = (
            f"{where} of {regions.file_name} reaches ({low[0]:.1f}, {low[1]:.1f})-({high[0]:.1f}, {high[1]:.1f}), "
            f"outside the {regions.width}x{regions.height} film."
        )
        raise CocoError(msg)
    if polygons:
        regions.polygons.extend(polygons)
    else:
        regions.boxes.append(box)  # type: ignore[arg-type]


def coco_mask_folder(cache_dir: str | Path, coco_path: str | Path) -> Path:
    """Where the masks of one COCO file are drawn: keyed by its resolved path, size and modification time."""
    identity = json.dumps([str(Path(coco_path).resolve()), file_signature(coco_path)])
    return Path(cache_dir) / "coco_masks" / hashlib.sha256(identity.encode()).hexdigest()[:16]


def write_coco_masks(regions: dict[str, FilmRegions], films: dict[str, str], folder: str | Path) -> dict[str, str]:
    """Draw the mask of every annotated film of ``films`` into ``folder`` (files already drawn are kept).

    Args:
        regions: Output of :func:`read_coco_regions`.
        films: ``COCO file_name -> film path relative to the dataset root`` of the films to draw.
        folder: Destination (see :func:`coco_mask_folder`).

    Returns:
        ``relative film path -> mask path`` for the films that have regions.
    """
    paths = {}
    for file_name, rel_path in films.items():
        if file_name not in regions:
            continue
        path = Path(folder) / f"{rel_path}.png"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            ok, encoded = cv2.imencode(".png", regions[file_name].mask())
            if not ok:
                msg = f"Could not encode the mask of {rel_path}."
                raise OSError(msg)
            write_bytes_atomic(path, encoded.tobytes())
        paths[rel_path] = str(path)
    return paths

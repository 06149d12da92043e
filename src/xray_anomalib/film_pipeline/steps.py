"""Offline preprocessing steps: each a function on one film, numpy in, numpy and a record out.

Films are ``H x W`` float32 in ``[0, 1]`` (bright = dense). The steps replace the paper's hand-labelled SSD
detector and Photoshop masks with classical image processing (OpenCV) that needs no labels:

- :func:`fix_inversion`: films stored inverted (bright background) are flipped;
- :func:`find_carrier`: the exposed film area, as a rotated rectangle, for deskewing and cropping;
- :func:`segment_hands`: a pixel mask of the hands, without burned-in letters and markers;
- :func:`segment_whole_film`: :func:`segment_hands`, once more at a lower threshold on a faint film;
- :func:`segment_filling_body`: the same for a body that fills the film (hip, pelvis, shoulder);
- :func:`hand_boxes`: one box per hand, so that films with two hands give two crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_HAND_SHARE = 0.03  # a hand covers at least this share of the film
SECOND_HAND_RATIO = 0.25  # a second component is a hand when at least this share of the largest one
MIN_CARRIER_SHARE = 0.3  # a carrier smaller than this share of the film is not believed
BACKGROUND_PART_RATIO = 0.1  # a background region this share of the largest one is part of the exposed film
CLIPPED_BACKGROUND = 0.03  # a background this close to the film's black point has its darker half clipped
SOLID_BLOCK_FILL = 0.8  # a component filling this share of its rotated bounding box is a marker block, not a hand
TISSUE_SPREADS = 4.0  # tissue lies this many spreads of the background's grain above the background
FAINT_TISSUE_SPREADS = 2.5  # the lower threshold tried on faint films, where nothing passes the usual one
DARKEST_BACKGROUND_PERCENTILE = 2.0  # on a film the body fills, its background is the level of its darkest pixels


@dataclass(frozen=True)
class Carrier:
    """The exposed film area as a rotated rectangle.

    Attributes:
        center: ``(x, y)`` of the rectangle's centre.
        size: ``(width, height)`` of the rectangle.
        angle: Rotation in degrees (OpenCV's ``minAreaRect`` convention).
        found: False when the whole film is used instead, with ``reason`` saying why.
        reason: Why the carrier was not used, or ``""``.
    """

    center: tuple[float, float]
    size: tuple[float, float]
    angle: float
    found: bool
    reason: str = ""


def _to_uint8(film: np.ndarray) -> np.ndarray:
    return np.round(np.clip(film, 0, 1) * 255).astype(np.uint8)


def _smooth(film: np.ndarray) -> np.ndarray:
    sigma = max(1.0, max(film.shape) / 256)
    return cv2.GaussianBlur(film.astype(np.float32), (0, 0), sigma)


def background_level(film: np.ndarray) -> float:
    """The most common intensity in the film's central part: the exposed background around the hand.

    The central part is used so that bright unexposed borders and scanner padding at the edges, which can cover
    more of a film than its background does, never pass for the background.
    """
    height, width = film.shape
    return _most_common_level(_smooth(film[height // 6 : height - height // 6, width // 6 : width - width // 6]))


def edge_level(film: np.ndarray) -> float:
    """The most common intensity along the film's edges (its outer eighth on each side).

    On a film that the body fills (a pelvis, a shoulder) the centre is body, and what background there is lies
    along the edges.
    """
    height, width = film.shape
    inner = np.zeros(film.shape, bool)
    inner[height // 8 : height - height // 8, width // 8 : width - width // 8] = True
    return _most_common_level(_smooth(film)[~inner])


def _most_common_level(values: np.ndarray) -> float:
    """The peak of the histogram of ``values``, without the black and white points (padding, saturation)."""
    histogram = np.bincount(_to_uint8(values).ravel(), minlength=256).astype(np.float64)
    histogram[[0, 255]] = 0
    histogram = np.convolve(histogram, np.ones(5) / 5, mode="same")
    return float(np.argmax(histogram) / 255)


def fix_inversion(film: np.ndarray, fills_film: bool = False) -> tuple[np.ndarray, dict]:
    """Flip a film stored inverted, where the exposed background is bright instead of dark.

    Args:
        film: ``H x W`` float32 in ``[0, 1]``.
        fills_film: The body fills the film: its background is judged along the edges instead of in the centre.

    Returns:
        The film (inverted when needed) and ``{"inverted": bool, "background": float}``.
    """
    level = edge_level(film) if fills_film else background_level(film)
    inverted = level > 0.5
    return (1.0 - film if inverted else film), {"inverted": inverted, "background": level}


def _background_band(film: np.ndarray, level: float) -> np.ndarray:
    """Pixels close to the background level: the exposed film around the hand."""
    smooth = _smooth(film)
    spread = max(0.04, float(np.std(smooth[np.abs(smooth - level) < 0.1])) * 2.5)
    return (np.abs(smooth - level) < spread).astype(np.uint8)


def find_carrier(film: np.ndarray) -> Carrier:
    """Find the exposed film area: the rotated rectangle around the background and everything it encloses.

    The background is every large region near the background level, not only the largest: a leg or forearm that
    crosses the film splits its background in two, and the largest half alone would give a strip beside the limb.

    Falls back to the whole film, with a reason, when the area found is too small to be believed.
    """
    height, width = film.shape
    whole = Carrier((width / 2, height / 2), (float(width), float(height)), 0.0, False)
    band = _background_band(film, background_level(film))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(band, connectivity=8)
    if count < 2:
        return Carrier(whole.center, whole.size, 0.0, False, "no background region found")
    areas = stats[:, cv2.CC_STAT_AREA].copy()
    areas[0] = 0
    parts = areas >= BACKGROUND_PART_RATIO * areas.max()  # a limb across the film cuts the background in two
    points = cv2.findNonZero(parts[labels].astype(np.uint8))
    (cx, cy), (w, h), angle = cv2.minAreaRect(points)
    if w * h < MIN_CARRIER_SHARE * height * width:
        return Carrier(whole.center, whole.size, 0.0, False, f"carrier area {w * h / (height * width):.0%} of the film")
    while angle > 45:  # keep the rectangle upright: OpenCV versions disagree on the angle's range, and a
        w, h, angle = h, w, angle - 90  # quarter turn of the angle is a swap of width and height
    while angle <= -45:
        w, h, angle = h, w, angle + 90
    return Carrier((float(cx), float(cy)), (float(w), float(h)), float(angle), True)


def carrier_transform(carrier: Carrier) -> np.ndarray:
    """The 2 x 3 affine matrix that maps film coordinates into the deskewed carrier crop."""
    (cx, cy), (w, h) = carrier.center, carrier.size
    matrix = cv2.getRotationMatrix2D((cx, cy), carrier.angle, 1.0)
    matrix[:, 2] += np.array([w / 2 - cx, h / 2 - cy])
    return matrix


def segment_hands(film: np.ndarray, spreads: float = TISSUE_SPREADS) -> tuple[np.ndarray, dict]:
    """Segment the hands: tissue brighter than the background, without letters, markers and specks.

    Args:
        film: ``H x W`` float32 in ``[0, 1]``, not inverted.
        spreads: How many spreads of the background's grain tissue lies above the background at least.

    Returns:
        A bool mask and ``{"components": n, "removed": n}`` (components kept and removed as markers/specks).
    """
    smooth = _smooth(film)
    return _keep_bodies(smooth > _tissue_threshold(smooth, background_level(film), spreads), drop_blocks=True)


def segment_filling_body(film: np.ndarray) -> tuple[np.ndarray, dict]:
    """Segment a body that fills the film (a pelvis, a shoulder): tissue brighter than the film's darkest part.

    The centre of such a film is body, so the background is taken from its darkest pixels (above the black point
    of scanner padding). A body filling most of its rectangle is no marker block here: none is dropped as one.

    Args:
        film: ``H x W`` float32 in ``[0, 1]``, not inverted.

    Returns:
        A bool mask and ``{"components": n, "removed": n}``, as :func:`segment_hands`.
    """
    smooth = _smooth(film)
    exposed = smooth[smooth > 1 / 255]
    level = float(np.percentile(exposed, DARKEST_BACKGROUND_PERCENTILE)) if exposed.size else 0.0
    return _keep_bodies(smooth > _tissue_threshold(smooth, level, TISSUE_SPREADS), drop_blocks=False)


def _keep_bodies(foreground: np.ndarray, drop_blocks: bool) -> tuple[np.ndarray, dict]:
    """Open ``foreground``, keep its large components (without marker blocks when asked) and fill their holes."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, max(foreground.shape) // 100) | 1,) * 2)
    opened = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    solid = np.array([drop_blocks and _is_solid_block(labels == label) for label in range(1, count)], bool)
    if len(areas) and not solid.all():
        largest = areas[~solid].max()
        keep[1:] = (areas >= MIN_HAND_SHARE * foreground.size) & (areas >= SECOND_HAND_RATIO * largest) & ~solid
    mask = _fill_holes(keep[labels])
    return mask, {"components": int(keep.sum()), "removed": int(count - 1 - keep.sum())}


def _tissue_threshold(smooth: np.ndarray, level: float, spreads: float) -> float:
    """The intensity above which a pixel is tissue.

    Soft tissue is only slightly brighter than the background: a threshold just above the background's own spread
    keeps it (Otsu would often split bone from tissue instead, losing the fingers' outline). The edge is then
    placed halfway between background and soft tissue, where a blurred edge has its middle.
    """
    threshold = level + max(0.03, spreads * _background_noise(smooth, level))
    candidates = smooth[smooth > threshold]
    if candidates.size:
        tissue = float(np.percentile(candidates, 25))
        threshold = max(threshold, (level + tissue) / 2)
    return threshold


def _background_noise(smooth: np.ndarray, level: float) -> float:
    """The background's spread around its level.

    Taken from the darker half of the background's peak, mirrored: the brighter half mixes with soft tissue, which
    on low-contrast films lies within a few grey levels of the background and would inflate the spread. When the
    background sits at the film's black point, its darker half is clipped away and both halves are used.
    """
    clipped = level - float(smooth.min()) < CLIPPED_BACKGROUND
    near = (np.abs(smooth - level) < 0.05) if clipped else ((smooth <= level) & (smooth > level - 0.05))
    deviations = smooth[near] - level
    return float(np.sqrt(np.mean(deviations**2))) if deviations.size else 0.01


def _is_solid_block(component: np.ndarray) -> bool:
    """A marker box is a nearly solid rectangle; a hand, with its fingers, fills far less of its rectangle."""
    points = cv2.findNonZero(component.astype(np.uint8))
    (_, _), (width, height), _ = cv2.minAreaRect(points)
    return len(points) > SOLID_BLOCK_FILL * max(width * height, 1.0)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill holes inside each hand (dark joint spaces, lytic lesions) that do not reach the border."""
    inverse = (~mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    height, width = mask.shape
    filled = mask.copy()
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        if x > 0 and y > 0 and x + w < width and y + h < height:
            filled |= labels == label
    return filled


def _sides_reached(mask: np.ndarray, margin: int) -> tuple[bool, bool, bool, bool]:
    """Whether ``mask`` reaches the top, bottom, left and right side (within ``margin`` pixels)."""
    return (
        bool(mask[:margin].any()),
        bool(mask[-margin:].any()),
        bool(mask[:, :margin].any()),
        bool(mask[:, -margin:].any()),
    )


def touched_sides(mask: np.ndarray, margin: int = 2) -> int:
    """How many of the image's four sides ``mask`` reaches (within ``margin`` pixels)."""
    return sum(_sides_reached(mask, margin))


def reaches_opposite_sides(mask: np.ndarray, margin: int = 2) -> bool:
    """Whether ``mask`` reaches both the top and the bottom, or both the left and the right side."""
    top, bottom, left, right = _sides_reached(mask, margin)
    return (top and bottom) or (left and right)


def segment_whole_film(film: np.ndarray) -> tuple[np.ndarray, str]:
    """Segment a film kept whole; on a faint film where nothing is found, once more at the lower threshold.

    Only films where the usual threshold finds nothing change (grainy low-contrast films, where the hand lies
    within a few grain spreads of the background). A faint body reaching two opposite sides is a band along the
    film's edge (or a trunk that fills the film), not a limb: nothing is kept.

    Returns:
        The bool mask, and why the lower threshold was used ("" when it was not).
    """
    mask, _ = segment_hands(film)
    if mask.any():
        return mask, ""
    faint, _ = segment_hands(film, spreads=FAINT_TISSUE_SPREADS)
    if not faint.any() or reaches_opposite_sides(faint):
        return mask, ""
    reason = f"faint body: nothing found at the usual threshold, segmented at {FAINT_TISSUE_SPREADS:g} grain spreads"
    return faint, reason


def hand_boxes(mask: np.ndarray, margin: float = 0.03) -> list[tuple[int, int, int, int]]:
    """One ``(x0, y0, x1, y1)`` box per hand component of ``mask``, left to right, with a small margin."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    height, width = mask.shape
    pad = round(margin * max(height, width))
    boxes = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        boxes.append((max(0, x - pad), max(0, y - pad), min(width, x + w + pad), min(height, y + h + pad)))
    return sorted(boxes)

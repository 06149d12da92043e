"""The offline pipeline: one film in, one crop per hand out, with masks, geometry and a record.

Variants, as compared in the paper's Table 1:

- ``raw``: the film as it is; the hand mask is the whole film;
- ``cropped``: inversion fixed, carrier found and deskewed, one crop per hand; the mask is the whole crop;
- ``full``: as ``cropped``, with the hand segmentation as the mask.

Every variant also gives each crop its body mask, the ``full`` variant's segmentation (mapped back onto the film
for ``raw``), which only evaluation reads (pixel metrics inside the body, heatmap peaks): a ``raw`` or ``cropped``
model never sees it, and its pixel metrics "inside the body" count the same pixels as a ``full`` model's instead
of the background.

The same :class:`OfflinePipeline` runs when a dataset is cached and when a new film is scored, so training and
prediction see identical inputs. Each crop keeps the 2 x 3 affine matrix from original film coordinates to crop
coordinates, so heatmaps can be mapped back onto the original film.

Example:
    >>> pipeline = OfflinePipeline(PreprocessingSettings(variant="full"))
    >>> crops, record = pipeline(read_film("image1.png").pixels)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

import cv2
import numpy as np

from xray_anomalib.film_pipeline.steps import (
    carrier_transform,
    find_carrier,
    fix_inversion,
    hand_boxes,
    segment_filling_body,
    segment_hands,
    segment_whole_film,
    touched_sides,
)
from xray_anomalib.utils.choices import Choice

PIPELINE_VERSION = 7  # bump when a step's behaviour changes, so cached results are recomputed
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # film coordinates are crop coordinates
MAX_HAND_SIDES = 4  # a body mask reaching all four sides of a carrier crop means the crop lies inside the body


class Variant(Choice):
    """How much offline preprocessing is applied."""

    RAW = "raw"
    CROPPED = "cropped"
    FULL = "full"


def parts_of(body_part: str) -> list[str]:
    """The body parts of a film, as the dataset's ``body_part`` column names them (``leg+hip``: both)."""
    return body_part.split("+")


@dataclass(frozen=True)
class PreprocessingSettings:
    """Settings of the offline pipeline; their hash keys the cache.

    Attributes:
        variant: ``raw``, ``cropped`` or ``full``.
        split_hands: Give one crop per hand on films that show two.
        fills_film: Body parts whose body fills the film (e.g. ``[hip, shoulder]`` of FracAtlas), as the dataset's
            ``body_part`` column names them (a film of ``leg+hip`` is of both): no carrier is searched on such
            films (it would lie inside the body), they are cut only to the box of the body, their background is
            judged along the edges and at their darkest pixels instead of in the centre, and no body is dropped
            as a marker block.
    """

    variant: Variant | str = Variant.FULL
    split_hands: bool = True
    fills_film: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", Variant(self.variant))
        parts = [self.fills_film] if isinstance(self.fills_film, str) else self.fills_film
        object.__setattr__(self, "fills_film", tuple(sorted(set(parts))))

    def body_fills_film(self, body_part: str) -> bool:
        """Whether a film of ``body_part`` (``+`` between the parts of a film of several) is one the body fills."""
        return any(part in self.fills_film for part in parts_of(body_part))

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (the variant by its name)."""
        return asdict(self) | {"variant": Variant(self.variant).value, "fills_film": list(self.fills_film)}

    def key(self) -> str:
        """A short hash of the settings and the pipeline version."""
        payload = json.dumps(self.to_dict() | {"version": PIPELINE_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class HandCrop:
    """One hand cut out of a film.

    Attributes:
        image: ``h x w`` float32 crop in ``[0, 1]``.
        hand_mask: ``h x w`` bool mask of the hand within the crop, as the model sees it (whole for ``raw`` and
            ``cropped``).
        matrix: 2 x 3 affine matrix from original film coordinates to crop coordinates.
        body_mask: ``h x w`` bool segmentation of the body within the crop, for evaluation only; whole where no
            body was found.
    """

    image: np.ndarray
    hand_mask: np.ndarray
    matrix: np.ndarray
    body_mask: np.ndarray

    @classmethod
    def whole(cls, film: np.ndarray, body_mask: np.ndarray | None = None) -> HandCrop:
        """The whole film as one crop, every pixel counted as hand (the raw variant and every early fallback)."""
        whole = np.ones(film.shape, bool)
        return cls(film, whole, IDENTITY.copy(), whole if body_mask is None else body_mask)


@dataclass
class FilmRecord:
    """What the pipeline did to one film.

    Attributes:
        status: ``ok``, or ``fallback`` when a step could not do its job and the film was kept more whole.
        reasons: Why each fallback happened.
        inverted: Whether the film was flipped because it was stored inverted.
        carrier_found: Whether a carrier was found and cut out.
        n_hands: Number of hand crops.
        hand_found: False when the segmentation found no hand (the whole film or carrier was kept instead).
        fills_film: Whether the film was treated as one the body fills (its body part is in the settings').
    """

    status: str = "ok"
    reasons: list[str] = field(default_factory=list)
    inverted: bool = False
    carrier_found: bool = False
    n_hands: int = 1
    hand_found: bool = True
    fills_film: bool = False

    def fall_back(self, reason: str) -> None:
        """Record that a step fell back, and why."""
        self.status = "fallback"
        self.reasons.append(reason)


class OfflinePipeline:
    """Inversion fix, carrier crop, hand localisation and splitting, and segmentation of one film.

    Args:
        settings: Which variant, and whether to split two-hand films.
        body_masks: Segment the body of ``raw`` films for evaluation; a model scoring new films needs no body mask
            (without it a ``raw`` crop's body mask is the whole film).
    """

    def __init__(self, settings: PreprocessingSettings | None = None, body_masks: bool = True) -> None:
        self.settings = settings or PreprocessingSettings()
        self.body_masks = body_masks

    def __call__(self, film: np.ndarray, body_part: str = "") -> tuple[list[HandCrop], FilmRecord]:
        """Preprocess one film.

        Args:
            film: ``H x W`` float32 in ``[0, 1]``.
            body_part: The film's body part as its dataset names it; it matters for the parts of the settings'
                ``fills_film``.

        Returns:
            The hand crops (at least one) and the record of what was done.
        """
        record = FilmRecord()
        if film.ndim != 2 or min(film.shape) < 16:
            record.fall_back(f"film of shape {film.shape} is too small to preprocess")
            record.hand_found = False
            return [HandCrop.whole(film)], record
        if self.settings.variant is Variant.RAW:
            body = self._body_on_film(film, body_part) if self.body_masks else None
            return [HandCrop.whole(film, body_mask=body)], record
        if float(film.std()) < 1e-3:
            record.fall_back("blank or constant film")
            record.hand_found = False
            return [HandCrop.whole(film)], record
        record.fills_film = self.settings.body_fills_film(body_part)
        film, inversion = fix_inversion(film, fills_film=record.fills_film)
        record.inverted = inversion["inverted"]
        if record.fills_film:  # a carrier found on such a film lies inside the body: the whole film is kept
            matrix, mask = IDENTITY, segment_filling_body(film)[0]
        else:
            film, matrix, mask = self._crop_carrier(film, record)
        boxes = hand_boxes(mask) if mask.any() else []
        if not boxes:
            record.fall_back("no hand found; whole carrier kept")
            record.hand_found = False
            boxes = [(0, 0, film.shape[1], film.shape[0])]
            mask = np.ones(film.shape, bool)
        if not self.settings.split_hands:
            boxes = [
                (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
            ]
        crops = []
        for x0, y0, x1, y1 in boxes:
            crop_matrix = matrix.copy()
            crop_matrix[:, 2] -= (x0, y0)
            body = np.ascontiguousarray(mask[y0:y1, x0:x1])
            hand = body if self.settings.variant is Variant.FULL else np.ones(body.shape, bool)
            crops.append(HandCrop(np.ascontiguousarray(film[y0:y1, x0:x1]), hand, crop_matrix, body))
        record.n_hands = len(crops)
        return crops, record

    def _crop_carrier(self, film: np.ndarray, record: FilmRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cut out and deskew the carrier, and segment what is kept.

        Returns:
            The film or carrier crop, the matrix from film to it, and its body segmentation.
        """
        carrier = find_carrier(film)
        if carrier.found:
            matrix = carrier_transform(carrier)
            size = (max(1, round(carrier.size[0])), max(1, round(carrier.size[1])))
            cropped = cv2.warpAffine(film, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            mask, _ = segment_hands(cropped)
            # a hand enters a film from one side (the forearm): a crop whose body reaches all four of its sides
            # lies inside the body or runs through it; a crop where none is found is no better than the film
            refusal = _crop_refusal(mask)
            if not refusal:
                record.carrier_found = True
                return cropped, matrix, mask
            carrier = replace(carrier, found=False, reason=refusal)
        record.fall_back(f"carrier: {carrier.reason}; whole film kept")
        return film, IDENTITY, self._segment_whole(film, record)

    @staticmethod
    def _segment_whole(film: np.ndarray, record: FilmRecord) -> np.ndarray:
        """Segment a film kept whole (:func:`segment_whole_film`); the record says when the film was faint."""
        mask, faint = segment_whole_film(film)
        if faint:
            record.fall_back(faint)
        return mask

    def _body_on_film(self, film: np.ndarray, body_part: str) -> np.ndarray:
        """The body the ``full`` variant segments, mapped back onto the film as it is; whole where none is found."""
        crops, record = OfflinePipeline(replace(self.settings, variant=Variant.FULL))(film, body_part)
        if not record.hand_found:
            return np.ones(film.shape, bool)
        body = np.zeros(film.shape, bool)
        for crop in crops:
            inverse = cv2.invertAffineTransform(crop.matrix)
            on_film = cv2.warpAffine(
                crop.hand_mask.astype(np.uint8), inverse, film.shape[::-1], flags=cv2.INTER_NEAREST, borderValue=0
            )
            body |= on_film > 0
        return body


def _crop_refusal(mask: np.ndarray) -> str:
    """Why a carrier crop whose segmentation is ``mask`` is refused ("" when it is kept)."""
    if not mask.any():
        return "no body found in the crop (it lies inside the body, or the body is too faint to segment)"
    if touched_sides(mask) >= MAX_HAND_SIDES:
        return "the crop would cut through the body (it reaches all four sides)"
    return ""


def warp_to_crop(values: np.ndarray, crop: HandCrop, nearest: bool = True) -> np.ndarray:
    """Map an image or mask of the original film into the coordinates of ``crop`` (e.g. an anomaly mask)."""
    height, width = crop.image.shape
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(values, crop.matrix, (width, height), flags=flags, borderValue=0)

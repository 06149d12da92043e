"""Draw one synthetic hand radiograph with its pixel truth.

A hand is a skeleton of bones (radius, ulna, carpals, metacarpals, phalanges) inside soft tissue, drawn
with OpenCV on a float canvas. A film adds what makes real films hard: a bright unexposed border from the
collimator with a tilt, burned-in side markers, sometimes two hands, exposure and noise, sometimes inversion.
Positive films carry one anomaly (metal, fracture, lytic lesion, sclerotic lesion) whose pixels are the
anomaly mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

ANOMALY_KINDS = ("metal", "fracture", "lytic_lesion", "sclerotic_lesion")

SOFT_TISSUE = 0.26
BONE = 0.30
BACKGROUND = 0.07


@dataclass
class SyntheticFilm:
    """A synthetic film and everything known about it.

    Attributes:
        film: ``H x W`` float32 in ``[0, 1]`` as stored (possibly inverted).
        hand_mask: ``H x W`` bool, the soft tissue of every hand.
        anomaly_mask: ``H x W`` bool, pixels changed by the anomaly (all False for normal films).
        hand_boxes: One ``(x0, y0, x1, y1)`` box per hand.
        anomaly_kind: One of ``ANOMALY_KINDS`` or ``""``.
        inverted: Whether the film was stored inverted (bright background).
        has_border: Whether a collimator border was drawn.
    """

    film: np.ndarray
    hand_mask: np.ndarray
    anomaly_mask: np.ndarray
    hand_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    anomaly_kind: str = ""
    inverted: bool = False
    has_border: bool = False


@dataclass
class _Bone:
    start: np.ndarray
    end: np.ndarray
    width: float


def _hand_skeleton(rng: np.random.Generator) -> tuple[list[_Bone], list[np.ndarray], list[tuple[np.ndarray, float]]]:
    """Bones, palm polygon and finger soft-tissue segments in hand coordinates (unit height, wrist at y=1)."""
    bones: list[_Bone] = []
    tissue: list[tuple[np.ndarray, float]] = []
    # forearm bones
    for dx, width in ((-0.10, 0.085), (0.09, 0.07)):
        bones.append(_Bone(np.array([dx * 1.1, 1.25]), np.array([dx, 0.76]), width))
    # carpals: a cluster of small rounded bones
    for cx, cy in (
        (-0.09, 0.70),
        (-0.03, 0.69),
        (0.04, 0.69),
        (0.10, 0.70),
        (-0.08, 0.63),
        (-0.02, 0.62),
        (0.04, 0.62),
        (0.10, 0.63),
    ):
        centre = np.array([cx, cy]) + rng.normal(0, 0.004, 2)
        half_height = np.array([0.0, 0.012])
        bones.append(_Bone(centre - half_height, centre + half_height, 0.05))
    # fingers: thumb then index to little finger
    base_angles = np.deg2rad([-52, -14, -2, 10, 22]) + rng.normal(0, np.deg2rad(4), 5)
    base_x = np.array([-0.13, -0.085, -0.03, 0.03, 0.085])
    meta_lengths = np.array([0.20, 0.30, 0.29, 0.27, 0.25]) * rng.uniform(0.93, 1.07)
    phalanx_lengths = [
        [0.14, 0.11],
        [0.18, 0.11, 0.08],
        [0.20, 0.13, 0.09],
        [0.19, 0.12, 0.085],
        [0.15, 0.09, 0.07],
    ]
    palm = [np.array([-0.16, 0.80]), np.array([0.15, 0.80])]
    knuckles = []
    for finger, angle in enumerate(base_angles):
        start = np.array([base_x[finger], 0.60 if finger else 0.64])
        direction = np.array([np.sin(angle), -np.cos(angle)])
        end = start + direction * meta_lengths[finger]
        width = 0.045 if finger else 0.05
        bones.append(_Bone(start, end, width))
        knuckles.append(end)
        point = end
        bend = rng.normal(0, np.deg2rad(3))
        for length in phalanx_lengths[finger]:
            direction = np.array([np.sin(angle + bend), -np.cos(angle + bend)])
            point_start = point + direction * 0.012
            point_end = point_start + direction * length * rng.uniform(0.94, 1.06)
            width *= 0.86
            bones.append(_Bone(point_start, point_end, width))
            tissue.append((np.stack([point, point_end + direction * 0.02]), width * 2.4))
            point = point_end
    palm_polygon = np.array([palm[0], knuckles[0] * 0.5 + palm[0] * 0.5, *knuckles[1:], palm[1]])
    forearm = np.array([[-0.17, 1.3], [-0.16, 0.78], [0.15, 0.78], [0.16, 1.3]])
    outlines = [palm_polygon, forearm]
    tissue.append((np.stack([palm[0] + [0.03, -0.05], knuckles[0]]), 0.12))
    return bones, outlines, tissue


def _to_pixels(points: np.ndarray, centre: np.ndarray, scale: float, angle: float, mirror: bool) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2) * [(-1.3 if mirror else 1.3), 1.0]
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (points - [0.0, 0.5]) @ rotation.T * scale + centre


def _draw_hand(
    shape: tuple[int, int],
    centre: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray, float]]]:
    """Return tissue density, bone density and the bones in pixels of one hand."""
    angle = rng.normal(0, np.deg2rad(8))
    mirror = bool(rng.random() < 0.5)
    bones, outlines, tissue_segments = _hand_skeleton(rng)
    tissue = np.zeros(shape, np.float32)
    for outline in outlines:
        cv2.fillPoly(
            tissue,
            [np.round(_to_pixels(outline, centre, scale, angle, mirror) * 16).astype(np.int32)],
            1.0,
            cv2.LINE_AA,
            shift=4,
        )
    for segment, width in tissue_segments:
        a, b = _to_pixels(segment, centre, scale, angle, mirror)
        cv2.line(tissue, _pt(a), _pt(b), 1.0, max(1, int(width * scale)), cv2.LINE_AA)
    bone = np.zeros(shape, np.float32)
    pixel_bones = []
    for item in bones:
        a, b = _to_pixels(np.stack([item.start, item.end]), centre, scale, angle, mirror)
        width = max(2.0, item.width * scale)
        cv2.line(bone, _pt(a), _pt(b), 0.85, int(width), cv2.LINE_AA)
        cv2.line(bone, _pt(a), _pt(b), 0.0, max(1, int(width * 0.45)), cv2.LINE_AA)
        pixel_bones.append((a, b, width))
    filled = np.zeros(shape, np.float32)
    for a, b, width in pixel_bones:
        cv2.line(filled, _pt(a), _pt(b), 1.0, int(width), cv2.LINE_AA)
    bone = np.maximum(bone, filled * 0.6)
    tissue = cv2.GaussianBlur(tissue, (0, 0), max(0.8, scale * 0.012))  # type: ignore[assignment]  # OpenCV's stubs lose the dtype
    bone = cv2.GaussianBlur(bone, (0, 0), max(0.5, scale * 0.003))
    return tissue, bone, pixel_bones


def _pt(point: np.ndarray) -> tuple[int, int]:
    return round(float(point[0])), round(float(point[1]))


def _add_anomaly(
    density: np.ndarray,
    bones: list[tuple[np.ndarray, np.ndarray, float]],
    bone_density: np.ndarray,
    kind: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Paint one anomaly onto ``density`` in place and return its mask."""
    candidates = [item for item in bones if np.linalg.norm(item[1] - item[0]) > 2.5 * item[2]] or bones
    a, b, width = candidates[rng.integers(len(candidates))]
    t = rng.uniform(0.3, 0.7)
    centre = a + (b - a) * t
    axis = (b - a) / max(np.linalg.norm(b - a), 1e-6)
    normal = np.array([-axis[1], axis[0]])
    shape = density.shape
    layer = np.zeros(shape, np.float32)
    if kind == "metal":
        length = np.linalg.norm(b - a) * rng.uniform(0.6, 1.1)
        start, end = centre - axis * length / 2, centre + axis * length / 2
        cv2.line(layer, _pt(start), _pt(end), 1.0, max(2, int(width * 0.45)), cv2.LINE_AA)
        if rng.random() < 0.5:  # a plate with screws across the bone
            for s in np.linspace(-0.35, 0.35, 3):
                p = centre + axis * length * s
                cv2.line(
                    layer, _pt(p - normal * width), _pt(p + normal * width), 1.0, max(2, int(width * 0.25)), cv2.LINE_AA
                )
        density += layer * 0.9
    elif kind == "fracture":
        offset = normal * width * 0.9
        jag = rng.normal(0, width * 0.15, (5, 2))
        points = np.array([centre - offset + offset * 2 * (i / 4) + jag[i] for i in range(5)])
        cv2.polylines(layer, [np.round(points).astype(np.int32)], False, 1.0, max(2, int(width * 0.22)), cv2.LINE_AA)
        layer *= (bone_density > 0.1).astype(np.float32)
        density -= layer * bone_density * BONE * 1.2
    else:
        axes = (max(2, int(width * rng.uniform(0.4, 0.6))), max(3, int(width * rng.uniform(0.6, 1.0))))
        angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
        cv2.ellipse(layer, _pt(centre), axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
        layer = cv2.GaussianBlur(layer, (0, 0), max(0.5, width * 0.06))  # type: ignore[assignment]  # OpenCV's stubs lose the dtype
        if kind == "lytic_lesion":
            density -= layer * np.maximum(bone_density, 0.3) * BONE * 0.9
        else:
            density += layer * BONE * 0.9
    return layer > 0.25


def _draw_marker(film: np.ndarray, rng: np.random.Generator, avoid: np.ndarray) -> None:
    """Burn a side marker (a letter, sometimes initials, sometimes in a bright box) into a corner."""
    h, w = film.shape
    scale = min(h, w) / 260
    text = str(rng.choice(["L", "R"]))
    initials = "".join(rng.choice(list("ABCDEGKLMPRST"), 2)) if rng.random() < 0.6 else ""
    gap = max(2, round(8 * scale))
    for _ in range(20):
        x = int(rng.uniform(0.04, 0.8) * w)
        y = int(rng.uniform(0.55, 0.9) * h)
        box = (x, int(y - 30 * scale), int(x + 32 * scale), int(y + 26 * scale))
        if not avoid[max(box[1] - gap, 0) : box[3] + gap, max(box[0] - gap, 0) : box[2] + gap].any():
            break
    else:
        return  # no free corner: real films have markers beside the hand, never on it
    boxed = rng.random() < 0.5
    box_layer = np.zeros((h, w), np.uint8)
    text_layer = np.zeros((h, w), np.uint8)
    if boxed:
        cv2.rectangle(box_layer, (box[0], box[1]), (box[2], box[3]), 255, -1)
    cv2.putText(
        text_layer,
        text,
        (x + int(4 * scale), y),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        255,
        max(1, int(3 * scale)),
        cv2.LINE_AA,
    )
    if initials:
        origin = (x + int(2 * scale), y + int(20 * scale))
        cv2.putText(
            text_layer, initials, origin, cv2.FONT_HERSHEY_PLAIN, 0.9 * scale, 255, max(1, int(scale)), cv2.LINE_AA
        )
    box_alpha = box_layer.astype(np.float32) / 255
    text_alpha = text_layer.astype(np.float32) / 255
    film[:] = film * (1 - box_alpha) + 0.85 * box_alpha
    film[:] = film * (1 - text_alpha) + (0.15 if boxed else 0.85) * text_alpha


def draw_film(
    rng: np.random.Generator,
    longest_side: int = 256,
    anomaly: str = "",
    two_hands: bool = False,
) -> SyntheticFilm:
    """Draw one synthetic hand film.

    Args:
        rng: Source of randomness; the same generator state gives the same film.
        longest_side: Pixels of the film's longer side (MURA films are 512).
        anomaly: One of ``ANOMALY_KINDS``, or ``""`` for a normal film.
        two_hands: Draw two hands side by side (both hands on one film, as some MURA studies do).

    Returns:
        The film with its hand mask, anomaly mask, hand boxes and flags.
    """
    if anomaly and anomaly not in ANOMALY_KINDS:
        msg = f"Unknown anomaly kind {anomaly!r}; expected one of {ANOMALY_KINDS}."
        raise ValueError(msg)
    aspect = rng.uniform(1.15, 1.35) if two_hands else rng.uniform(0.72, 0.88)
    h, w = (int(longest_side / aspect), longest_side) if aspect > 1 else (longest_side, int(longest_side * aspect))
    tissue = np.zeros((h, w), np.float32)
    bone = np.zeros((h, w), np.float32)
    bones: list[tuple[np.ndarray, np.ndarray, float]] = []
    hand_masks = []
    centres = (
        [np.array([w * 0.27, h * 0.58]), np.array([w * 0.73, h * 0.58])]
        if two_hands
        else [np.array([w * 0.5, h * 0.58])]
    )
    for centre in centres:
        scale = min(w * 0.4 if two_hands else w * 1.05, h) * 0.8 * rng.uniform(0.9, 1.0)
        hand_tissue, hand_bone, hand_bones = _draw_hand((h, w), centre + rng.normal(0, 0.02 * h, 2), scale, rng)
        tissue = np.maximum(tissue, hand_tissue)
        bone = np.maximum(bone, hand_bone)
        bones += hand_bones
        hand_masks.append(hand_tissue > 0.5)
    hand_mask = np.logical_or.reduce(hand_masks)
    density = tissue * SOFT_TISSUE * rng.uniform(0.8, 1.2) + bone * BONE * rng.uniform(0.85, 1.15)
    anomaly_mask = np.zeros((h, w), bool)
    if anomaly:
        anomaly_mask = _add_anomaly(density, bones, bone, anomaly, rng) & (hand_mask | (anomaly == "metal"))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gradient = (xx / w - 0.5) * rng.normal(0, 0.04) + (yy / h - 0.5) * rng.normal(0, 0.04)
    film = BACKGROUND * rng.uniform(0.6, 1.6) + gradient + density
    _draw_marker(film, rng, hand_mask)
    has_border = bool(rng.random() < 0.6)
    if has_border:
        film = _collimate(film, rng)
    gamma = rng.uniform(0.75, 1.35)
    film = np.clip(film, 0, 1) ** gamma * rng.uniform(0.85, 1.1)
    film = film + rng.normal(0, rng.uniform(0.008, 0.025), film.shape).astype(np.float32)
    film = cv2.GaussianBlur(np.clip(film, 0, 1).astype(np.float32), (0, 0), 0.6)
    inverted = bool(rng.random() < 0.08)
    if inverted:
        film = 1.0 - film
    boxes = [_box(mask) for mask in hand_masks]
    return SyntheticFilm(film.astype(np.float32), hand_mask, anomaly_mask, boxes, anomaly, inverted, has_border)


def _collimate(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Leave a tilted exposed rectangle and make everything outside it bright (unexposed)."""
    h, w = film.shape
    margin_x, margin_y = rng.uniform(0.0, 0.08, 2) * [w, h]
    rect = (
        (w / 2 + rng.normal(0, 0.01 * w), h / 2 + rng.normal(0, 0.01 * h)),
        (w - 2 * margin_x + w * 0.04, h - 2 * margin_y + h * 0.04),
        rng.normal(0, 4),
    )
    exposed = np.zeros_like(film)
    cv2.fillPoly(exposed, [np.round(cv2.boxPoints(rect)).astype(np.int32)], 1.0, cv2.LINE_AA)
    bright = rng.uniform(0.7, 0.92)
    return film * exposed + bright * (1 - exposed)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

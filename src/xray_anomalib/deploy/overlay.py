"""Heatmap overlays on the original film, and small JPEG thumbnails for the report."""

from __future__ import annotations

import cv2
import numpy as np

OVERLAY_ALPHA = 0.6  # opacity of the heatmap where it reaches the threshold
FADE_IN = 0.8  # the heatmap fades in from this share of the threshold
THUMBNAIL_SIDE = 320
PEAK_COLOUR = (255, 255, 255)
OUTLINE_COLOUR = (255, 255, 255)


def film_to_bgr(film: np.ndarray) -> np.ndarray:
    """A ``[0, 1]`` gray film as an 8-bit BGR image."""
    gray = np.round(np.clip(film, 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def draw_overlay(
    film: np.ndarray, anomaly_map: np.ndarray, threshold: float, peak: tuple[int, int] | None = None
) -> np.ndarray:
    """The film with its heatmap, the outline of the region above the threshold, and a ring around the peak.

    The heatmap fades in from 80% of the threshold and is fully tinted at the threshold, so a normal hand stays
    readable and the regions near or above the threshold stand out.

    Args:
        film: ``H x W`` film in ``[0, 1]``.
        anomaly_map: ``H x W`` normalised heatmap on the film's geometry.
        threshold: The model's normalised pixel threshold.
        peak: ``(x, y)`` of the heatmap's maximum, ringed when given.
    """
    heat = cv2.applyColorMap(np.round(np.clip(anomaly_map, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    start = FADE_IN * threshold
    weight = OVERLAY_ALPHA * np.clip((anomaly_map - start) / max(threshold - start, 1e-6), 0, 1).astype(np.float32)
    # blended in 8 bits with one weight plane: a 2048 px film's float BGR copies would take some 200 MB
    overlay = cv2.blendLinear(film_to_bgr(film), heat, 1 - weight, weight)
    line = max(1, round(max(film.shape) / 300))
    above = (anomaly_map > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(overlay, contours, -1, OUTLINE_COLOUR, line)
    if peak is not None:
        cv2.circle(overlay, peak, max(4, round(max(film.shape) / 25)), PEAK_COLOUR, line)
    return overlay


def thumbnail_jpeg(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG of ``image`` shrunk so that its longest side is at most ``side``."""
    scale = min(1.0, side / max(image.shape[:2]))
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        msg = "OpenCV could not encode a thumbnail"
        raise RuntimeError(msg)
    return encoded.tobytes()

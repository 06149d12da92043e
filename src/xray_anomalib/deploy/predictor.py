"""Score new films with a trained model: read, preprocess as in training, infer, map the heatmap back.

Example:
    >>> predictor = Predictor("results/Cae/synthetic_mura/xr_hand/latest")
    >>> prediction = predictor.predict("patient00001/study1_positive/image1.png")  # doctest: +SKIP
    >>> prediction.score, prediction.label, prediction.anomaly_map.shape  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from xray_anomalib.data.transforms import ModelInput, letterboxed_size
from xray_anomalib.deploy.backends import ModelRunner, find_model_card, load_runner
from xray_anomalib.deploy.streaming import ordered_map
from xray_anomalib.film_pipeline.cache import as_read_from_cache
from xray_anomalib.film_pipeline.pipeline import FilmRecord, HandCrop
from xray_anomalib.io.films import MAX_FILM_SIDE, FilmReadError, read_film
from xray_anomalib.models.components.deployment import DeploymentSettings
from xray_anomalib.models.components.model_card import ModelCard


class FilmStatus:
    """Per-film outcomes; every status but ``ok`` counts as a failure."""

    OK = "ok"
    UNREADABLE = "unreadable"
    NO_HAND = "no_hand"
    ERROR = "error"


@dataclass
class FilmPrediction:
    """The outcome for one film.

    Attributes:
        path: The film's path.
        status: One of :class:`FilmStatus`.
        message: What went wrong (empty when ``ok``), or a note on preprocessing fallbacks.
        score: Normalised film score (the highest of its hands); ``None`` unless ``ok``.
        label: Whether the score is above the model's threshold.
        n_hands: Hand crops scored.
        film: The film as read (``H x W`` float in ``[0, 1]``), reduced when larger than the predictor's
            ``max_film_side``.
        anomaly_map: The normalised heatmap on the film's own geometry (``H x W``), 0 outside the hands.
        peak: ``(x, y)`` of the heatmap's highest point on ``film``; ``None`` when the map is flat.
        scale: ``film`` is the stored film resized by this factor (1 unless it was reduced on reading).
        timings: Seconds spent per stage.
    """

    path: str
    status: str
    message: str = ""
    score: float | None = None
    label: bool | None = None
    n_hands: int = 0
    film: np.ndarray | None = None
    anomaly_map: np.ndarray | None = None
    peak: tuple[int, int] | None = None
    scale: float = 1.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the film was scored."""
        return self.status == FilmStatus.OK

    @property
    def stored_peak(self) -> tuple[int, int] | None:
        """The peak in the stored film's pixels, where a reduced film's ``peak`` is in the reduced ones."""
        if self.peak is None:
            return None
        peak_x, peak_y = self.peak
        return round(peak_x / self.scale), round(peak_y / self.scale)


@dataclass
class PreparedFilm:
    """A film read and preprocessed, ready for the model."""

    path: str
    film: np.ndarray
    scale: float
    crops: list[HandCrop]
    record: FilmRecord
    images: np.ndarray
    hand_masks: np.ndarray
    timings: dict[str, float]


class Predictor:
    """Scores films with a trained model, preprocessing them exactly as its training films were.

    Args:
        model: A run folder (``results/<Model>/<dataset>/<part>/latest``), an OpenVINO export folder or
            ``model.xml`` (with ``xray_deployment.json`` beside it), or a ``.ckpt``; or a ready
            :class:`~xray_anomalib.deploy.backends.ModelRunner` together with ``settings``.
        backend: ``openvino`` (compiled once) or ``torch``.
        device: OpenVINO device.
        settings: The deployment settings, only with a runner as ``model``.
        export_dir: Where a checkpoint is exported for the OpenVINO backend when it has no export yet.
        max_film_side: Films whose longest side is larger are reduced to it on reading, which bounds the memory a
            film in flight takes (a 6000 x 6000 film would hold over 400 MB with its heatmap and overlay); the
            model sees crops of at most ``image_size``, so its scores hardly change. ``None`` keeps every film
            as it is.
        body_part: The films' body part as the training data named it; films of a part that the preprocessing's
            ``fills_film`` lists are kept whole, as in training.

    Attributes:
        card: The model card beside the export or in the run folder (``None`` without one, or with a runner).
    """

    def __init__(
        self,
        model: str | Path | ModelRunner,
        backend: str = "openvino",
        device: str = "CPU",
        settings: DeploymentSettings | None = None,
        export_dir: str | Path | None = None,
        max_film_side: int | None = MAX_FILM_SIDE,
        body_part: str = "",
    ) -> None:
        self.card: ModelCard | None = None
        if isinstance(model, str | Path):
            self.runner, self.settings = load_runner(model, backend, device, export_dir)
            self.card = find_model_card(model)
        elif settings is None:
            msg = "A model runner needs its deployment settings."
            raise ValueError(msg)
        else:
            self.runner, self.settings = model, settings
        self.max_film_side = max_film_side
        self.body_part = body_part
        self.pipeline = self.settings.pipeline()
        self.model_input = ModelInput(self.settings.image_size, self.settings.build_film_transform())

    def predict(self, path: str | Path) -> FilmPrediction:
        """Score one film."""
        prepared = self.prepare(path)
        return prepared if isinstance(prepared, FilmPrediction) else self.infer(prepared)

    def predict_many(
        self, paths: Iterable[str | Path], workers: int = 2, prefetch: int = 2
    ) -> Iterator[FilmPrediction]:
        """Score films in order, reading and preprocessing ahead in threads while the model runs.

        At most ``prefetch`` films per worker are held in memory at a time, however many films there are.
        """
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for prepared in ordered_map(pool, self.prepare, paths, window=max(1, workers * prefetch)):
                yield self._finish(prepared)

    def _finish(self, prepared: PreparedFilm | FilmPrediction) -> FilmPrediction:
        if isinstance(prepared, FilmPrediction):
            return prepared
        try:
            return self.infer(prepared)
        except (RuntimeError, ValueError) as error:  # reported per film; the run goes on
            message = f"inference failed: {error}"
            return FilmPrediction(prepared.path, FilmStatus.ERROR, message, film=prepared.film, scale=prepared.scale)

    def prepare(self, path: str | Path) -> PreparedFilm | FilmPrediction:
        """Read and preprocess one film; a failed film comes back as its :class:`FilmPrediction`."""
        timings = {}
        start = time.perf_counter()
        try:
            read = read_film(path, max_side=self.max_film_side)
        except FilmReadError as error:
            return FilmPrediction(str(path), FilmStatus.UNREADABLE, error.reason)
        film, scale = read.pixels, read.scale
        timings["read"] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            crops, record = self.pipeline(film, self.body_part)
        except (cv2.error, ValueError) as error:
            message = f"preprocessing failed: {error}"
            return FilmPrediction(str(path), FilmStatus.ERROR, message, film=film, scale=scale)
        if not record.hand_found:
            message = "preprocessing found no hand on this film; it is not scored"
            return FilmPrediction(str(path), FilmStatus.NO_HAND, message, film=film, scale=scale)
        images, hand_masks = zip(*(self._model_input(crop) for crop in crops), strict=True)
        timings["preprocess"] = time.perf_counter() - start
        return PreparedFilm(str(path), film, scale, crops, record, np.stack(images), np.stack(hand_masks), timings)

    def _model_input(self, crop: HandCrop) -> tuple[np.ndarray, np.ndarray]:
        """One crop as the model's ``3 x S x S`` input and ``1 x S x S`` hand mask, built as the dataset builds them.

        Crops of a model trained through the preprocessing cache get the cache's 16-bit levels first.
        """
        pixels = crop.image if self.settings.preprocessing is None else as_read_from_cache(crop.image)
        image, hand_mask = self.model_input(pixels.astype(np.float32), crop.hand_mask.astype(bool))
        return image.numpy().astype(np.float32), hand_mask.unsqueeze(0).numpy().astype(np.float32)

    def infer(self, prepared: PreparedFilm) -> FilmPrediction:
        """Run the model on a prepared film and map its heatmap back onto the film."""
        timings = dict(prepared.timings)
        start = time.perf_counter()
        scored = self.runner(prepared.images, prepared.hand_masks)
        timings["infer"] = time.perf_counter() - start
        start = time.perf_counter()
        on_hands = scored.maps * prepared.hand_masks[:, 0]  # the heatmap is defined on the hand only
        anomaly_map = film_anomaly_map(on_hands, prepared.crops, prepared.film.shape)
        timings["map_back"] = time.perf_counter() - start
        score = float(scored.scores.max())
        return FilmPrediction(
            prepared.path,
            FilmStatus.OK,
            "; ".join(prepared.record.reasons),
            score=score,
            label=score > self.settings.image_threshold,
            n_hands=len(prepared.crops),
            film=prepared.film,
            anomaly_map=anomaly_map,
            peak=heatmap_peak(anomaly_map),
            scale=prepared.scale,
            timings=timings,
        )


def heatmap_peak(anomaly_map: np.ndarray) -> tuple[int, int] | None:
    """``(x, y)`` of the heatmap's highest point, or ``None`` when the map is flat (it points nowhere)."""
    if not anomaly_map.size or anomaly_map.max() <= anomaly_map.min():
        return None
    peak_y, peak_x = np.unravel_index(int(np.argmax(anomaly_map)), anomaly_map.shape)
    return int(peak_x), int(peak_y)


def film_anomaly_map(maps: np.ndarray, crops: list[HandCrop], film_shape: tuple[int, int]) -> np.ndarray:
    """Map each crop's letterboxed heatmap back onto the original film and keep the highest value per pixel.

    Each map loses the padding of its letterbox, is resized to its crop and warped through the inverse of the
    crop's film-to-crop matrix (carrier deskew and crop offset); pixels no crop covers are 0.

    Args:
        maps: ``(N, S, S)`` heatmaps of the N crops.
        crops: The crops, with their film-to-crop matrices.
        film_shape: ``(H, W)`` of the original film.
    """
    height, width = film_shape
    result = np.zeros(film_shape, np.float32)
    for anomaly_map, crop in zip(maps, crops, strict=True):
        crop_height, crop_width = crop.image.shape
        inner_height, inner_width = letterboxed_size(crop_height, crop_width, anomaly_map.shape[0])
        on_crop = cv2.resize(
            np.ascontiguousarray(anomaly_map[:inner_height, :inner_width]),
            (crop_width, crop_height),
            interpolation=cv2.INTER_LINEAR,
        )
        on_film = cv2.warpAffine(
            on_crop,
            crop.matrix,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        np.maximum(result, on_film, out=result)
    return result

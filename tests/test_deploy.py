"""Deployment settings, input discovery, heatmap mapping onto the original film, study aggregation."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.transforms import v2
from torchvision.tv_tensors import Mask

from xray_anomalib.data.transforms import Clahe, HistogramEqualization, letterbox
from xray_anomalib.deploy.inputs import find_inputs
from xray_anomalib.deploy.predictor import film_anomaly_map, heatmap_peak
from xray_anomalib.deploy.report import FilmRow, aggregate_studies
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.film_pipeline.pipeline import warp_to_crop
from xray_anomalib.io.films import read_film
from xray_anomalib.models.components.deployment import (
    DeploymentError,
    DeploymentSettings,
    build_transform,
    transform_config,
)


def test_settings_round_trip_through_json(tmp_path: Path) -> None:
    transform = v2.Compose([Clahe(clip_limit=2.0, tile_grid=4), HistogramEqualization()])
    settings = DeploymentSettings(
        "xray_anomalib_plugins.cae.lightning_model.Cae",
        128,
        preprocessing=PreprocessingSettings("cropped", split_hands=False),
        film_transform=transform_config(transform),
        hand_mask_source="none",
        takes_hand_mask=True,
        image_threshold=0.42,
    )
    read = DeploymentSettings.read(settings.write(tmp_path).parent)
    assert read == settings
    rebuilt = read.build_film_transform()
    image = torch.rand(3, 32, 32)
    torch.testing.assert_close(rebuilt(image), transform(image))
    assert rebuilt.transforms[0].clip_limit == 2.0


def test_missing_or_foreign_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match=r"xray_deployment\.json"):
        DeploymentSettings.read(tmp_path)
    (tmp_path / "xray_deployment.json").write_text('{"version": 1, "model_class": "x", "image_size": 64, "colour": 1}')
    with pytest.raises(DeploymentError, match="colour"):
        DeploymentSettings.read(tmp_path)
    (tmp_path / "xray_deployment.json").write_text("{not json")
    with pytest.raises(DeploymentError, match="not valid JSON"):
        DeploymentSettings.read(tmp_path)


def test_transform_that_hides_its_arguments_cannot_be_recorded() -> None:
    class Hidden(v2.Transform):
        def __init__(self, strength: float) -> None:
            super().__init__()
            self._strength = strength

    with pytest.raises(DeploymentError, match="strength"):
        transform_config(Hidden(2.0))
    assert isinstance(build_transform(transform_config(HistogramEqualization())), HistogramEqualization)


def test_inputs_are_grouped_by_study_and_non_films_reported(tmp_path: Path) -> None:
    study = tmp_path / "patient1" / "study1_positive"
    study.mkdir(parents=True)
    for name in ("image2.png", "image1.dcm", "notes.txt", ".DS_Store"):
        (study / name).write_bytes(b"x")
    (tmp_path / "loose film.png").write_bytes(b"x")
    (study / "loop").symlink_to(tmp_path)  # a link back up must not make the walk endless
    films, skipped = find_inputs(tmp_path)
    assert [film.name for film in films] == [
        "loose film.png",
        "patient1/study1_positive/image1.dcm",
        "patient1/study1_positive/image2.png",
    ]
    assert {film.study for film in films} == {tmp_path.name, "patient1/study1_positive"}
    assert sorted(item.path.name for item in skipped) == [".DS_Store", "loop", "notes.txt"]
    single, _ = find_inputs(study / "image2.png")
    assert single[0].study == "study1_positive"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_inputs(tmp_path / "nowhere")


def test_studies_aggregate_by_max_or_mean() -> None:
    rows = [
        FilmRow("a", "a/1.png", "", "ok", score=0.9),
        FilmRow("a", "a/2.png", "", "ok", score=0.1),
        FilmRow("a", "a/3.png", "", "unreadable"),
        FilmRow("b", "b/1.png", "", "ok", score=0.6),
        FilmRow("c", "c/1.png", "", "no_hand"),
    ]
    by_max = aggregate_studies(rows, "max", threshold=0.55)
    assert [(row.study, row.score, row.label, row.failed) for row in by_max] == [
        ("a", 0.9, True, 1),
        ("b", 0.6, True, 0),
        ("c", None, None, 1),
    ]
    by_mean = {row.study: row for row in aggregate_studies(rows, "mean", threshold=0.55)}
    assert by_mean["a"].score == pytest.approx(0.5)
    assert by_mean["a"].label is False
    with pytest.raises(ValueError, match="aggregation"):
        aggregate_studies(rows, "median", threshold=0.5)


@pytest.mark.parametrize("image_size", [64, 256])
def test_heatmap_lands_on_the_anomaly_of_the_original_film(synthetic_root: Path, image_size: int) -> None:
    """A heatmap equal to the true mask in model space comes back onto the true mask of the original film.

    Films go through the full pipeline (inversion, tilted carrier crop and deskew, one crop per hand, letterbox);
    the true anomaly mask is taken into each crop's model input exactly as the film is, then mapped back.
    """
    truth = pd.read_csv(synthetic_root / "synthetic_truth.csv")
    positive = truth[truth["anomaly_kind"].notna()]
    pipeline = DeploymentSettings("x", image_size, preprocessing=PreprocessingSettings("full")).pipeline()
    box = letterbox(image_size)
    overlaps = []
    for rel_path in positive["rel_path"]:
        mask = cv2.imread(str(synthetic_root / "masks" / rel_path), cv2.IMREAD_GRAYSCALE)
        if mask is None or mask.sum() == 0:
            continue
        film = read_film(synthetic_root / rel_path).pixels
        crops, _ = pipeline(film)
        maps = []
        for crop in crops:
            in_crop = Mask(torch.from_numpy(warp_to_crop(mask, crop) > 0).unsqueeze(0).float())
            maps.append(box(in_crop)[0].numpy())
        mapped = film_anomaly_map(np.stack(maps), crops, film.shape) > 0.5
        inside = mask > 0
        overlaps.append((mapped & inside).sum() / max(1, (mapped | inside).sum()))
    assert len(overlaps) >= 5
    assert np.median(overlaps) > (0.6 if image_size == 64 else 0.8)


def test_a_flat_heatmap_has_no_peak() -> None:
    """An all-zero map points nowhere: no ring in the film's corner, no peak in films.csv."""
    assert heatmap_peak(np.zeros((8, 6), np.float32)) is None
    assert heatmap_peak(np.full((8, 6), 0.3, np.float32)) is None
    anomaly_map = np.zeros((8, 6), np.float32)
    anomaly_map[5, 2] = 1.0
    assert heatmap_peak(anomaly_map) == (2, 5)  # (x, y)

"""Hostile and broken input in a MURA tree: nothing crashes, every problem is reported by path, and nothing
outside the dataset root is read or written."""

import os
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from anomalib.engine import Engine
from films import jpeg_claiming, tiff_claiming

from xray_anomalib.data import Mura
from xray_anomalib.data.split import SplitError
from xray_anomalib.data.transforms import HistogramEqualization
from xray_anomalib.deploy import Predictor, predict_folder
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.io.films import MAX_FILM_BYTES, FilmReadError, read_film
from xray_anomalib.registry import build_model


def huge_png() -> bytes:
    """A PNG whose header claims 70000 x 70000 pixels (a decompression bomb's header)."""
    ok, encoded = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    data[16:24] = struct.pack(">II", 70000, 70000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def truncated_png() -> bytes:
    """The first half of a real PNG."""
    ok, encoded = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    assert ok
    return encoded.tobytes()[: len(encoded) // 2]


def malformed_dicom() -> bytes:
    """A DICOM preamble and magic followed by garbage."""
    return b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage" * 10


HOSTILE = {  # file name -> (content, the reason's words)
    "truncated.png": (truncated_png(), "truncated"),
    "empty.png": (b"", "empty"),
    "text.png": (b"this is not a film", "not a readable image"),
    "huge.png": (huge_png(), "larger than any film"),
    "huge.tif": (tiff_claiming(30000, 30000), "larger than any film"),
    "huge.jpg": (jpeg_claiming(20000, 20000), "larger than any film"),
    "large.tif": (tiff_claiming(9000, 9000), "larger than any film"),
    "malformed.dcm": (malformed_dicom(), "malformed DICOM"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_reader_refuses_each_hostile_file_by_name(tmp_path: Path, name: str) -> None:
    content, reason = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FilmReadError, match=reason) as error:
        read_film(path)
    assert str(path) in str(error.value)


def test_a_huge_sparse_file_is_refused_by_its_size_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "sparse.png"
    with path.open("wb") as file:
        file.truncate(MAX_FILM_BYTES + 1)  # sparse: takes no disk space
    with pytest.raises(FilmReadError, match="more than any film") as error:
        read_film(path)
    assert str(path) in str(error.value)


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    with pytest.raises(FilmReadError, match="not a regular file"):
        read_film(path)  # opening it would block until a writer came


@pytest.fixture
def hostile_root(synthetic_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the tiny synthetic MURA (read by walking its folders) under a path with spaces and unicode,
    with hostile files in a study, a patient folder with such a name, a link loop and a link out of the root."""
    root = tmp_path / "data sets ü" / "MURA-v1.1"
    shutil.copytree(synthetic_root, root)
    for csv in root.glob("*.csv"):
        csv.unlink()
    study = next(iter(sorted((root / "train" / "XR_HAND").glob("patient*/study*_negative"))))
    good = next(iter(sorted(study.glob("*.png"))))
    for name, (content, _) in HOSTILE.items():
        (study / name).write_bytes(content)
    cv2.imwrite(str(study / "constant.png"), np.zeros((64, 48), np.uint8))
    (study / "loop").symlink_to(root, target_is_directory=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(good, outside / "secret.png")
    (study / "escape.png").symlink_to(outside / "secret.png")
    patient = study.parent
    patient.rename(patient.with_name(f"{patient.name} é x"))
    return root, outside


def _listing(folder: Path) -> dict[str, int]:
    """Every entry below ``folder`` with its modification time (links not followed: the tree has a loop)."""
    entries = {}
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            entries[str(Path(parent) / name)] = (Path(parent) / name).lstat().st_mtime_ns
    return entries


@pytest.mark.slow
def test_training_and_prediction_survive_a_hostile_tree(hostile_root: tuple[Path, Path], tmp_path: Path) -> None:
    root, outside = hostile_root
    before_root, before_outside = _listing(root), _listing(outside)
    datamodule = Mura(
        root=root,
        image_size=64,
        preprocessing=PreprocessingSettings("full"),
        film_transform=HistogramEqualization(),
        cache_dir=tmp_path / "cache",
        train_batch_size=8,
        eval_batch_size=8,
    )
    engine = Engine(max_epochs=1, default_root_dir=tmp_path / "results", enable_progress_bar=False, logger=False)
    model = build_model("cae", image_size=64, channels=[8, 16, 32], bottleneck_channels=32)
    engine.fit(model=model, datamodule=datamodule)
    (metrics,) = engine.test(model=model, datamodule=datamodule)
    assert np.isfinite(metrics["image_AUROC"])

    rejected = pd.read_csv(next((tmp_path / "results").rglob("rejected_films.csv")))
    reasons = {Path(path).name: reason for path, reason in zip(rejected["image_path"], rejected["reason"], strict=True)}
    assert set(reasons) == {*HOSTILE, "escape.png"}
    for name, (_, words) in HOSTILE.items():
        assert words in reasons[name]
    assert "outside the dataset root" in reasons["escape.png"]
    records = pd.read_csv(next((tmp_path / "results").rglob("preprocessing_records.csv")))
    constant = records[records["film_path"].str.endswith("constant.png")]
    assert constant["reason"].str.contains("blank or constant").all()  # kept, trained on, reported

    summary = predict_folder(
        Predictor(engine.trainer.checkpoint_callback.best_model_path), root / "train", tmp_path / "p"
    )
    films = pd.read_csv(tmp_path / "p" / "films.csv")
    status = dict(zip(films["film"].map(lambda film: Path(film).name), films["status"], strict=True))
    assert all(status[name] == "unreadable" for name in HOSTILE)
    assert status["constant.png"] == "no_hand"
    assert status["loop"] == "skipped"
    assert status["escape.png"] == "skipped"  # a link out of the input folder is not followed
    assert summary.failed == films["status"].isin(["unreadable", "no_hand", "error"]).sum() >= len(HOSTILE) + 1
    assert _listing(root) == before_root  # nothing written inside the dataset
    assert _listing(outside) == before_outside


@pytest.mark.slow
def test_a_collection_of_broken_films_fails_in_one_message_and_lists_them(synthetic_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "MURA-v1.1"
    shutil.copytree(synthetic_root, root)
    films = sorted([*(root / "train").rglob("image*.png"), *(root / "valid").rglob("image*.png")])
    for number, film in enumerate(films):
        film.write_text(f"not a film, number {number}")  # all different: byte-identical copies count once
    datamodule = Mura(root=root, image_size=64, preprocessing=None, cache_dir=tmp_path / "cache")
    engine = Engine(max_epochs=1, default_root_dir=tmp_path / "results", enable_progress_bar=False, logger=False)
    model = build_model("cae", image_size=64, channels=[8, 16, 32], bottleneck_channels=32)
    with pytest.raises(SplitError, match=r"(?s)is empty.*could not be read, listed with their reasons in") as error:
        engine.fit(model=model, datamodule=datamodule)
    listed = Path(str(error.value).rsplit(" in ", 1)[1])
    rejected = pd.read_csv(listed)
    assert set(rejected["image_path"]) <= {str(film) for film in films}
    assert len(rejected) > len(films) / 2  # every film the split holds (the index reads MURA's training films)
    assert rejected["reason"].str.contains("not a readable image").all()

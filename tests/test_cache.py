import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from xray_anomalib.data import Mura
from xray_anomalib.data.datamodule import RECORDS_NAME
from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.film_pipeline.cache import build_cache, cache_folder


@pytest.fixture
def films(synthetic_root: Path) -> pd.DataFrame:
    index = read_mura_index(synthetic_root).head(12)
    masks = [synthetic_root / "masks" / rel for rel in index["rel_path"]]
    return index.assign(mask_path=[str(path) if path.is_file() else "" for path in masks])


def test_cache_writes_crops_and_resumes(films: pd.DataFrame, tmp_path: Path) -> None:
    settings = PreprocessingSettings("full")
    crops = build_cache(films, settings, tmp_path, "MURA-v1.1", workers=1)
    assert set(crops["film_path"]) == set(films["image_path"])
    assert (crops["status"] != "unreadable").all()
    assert all(Path(path).is_file() for path in crops["image_path"])
    assert all(Path(path).is_file() for path in crops.loc[crops["mask_path"] != "", "mask_path"])
    folder = cache_folder(tmp_path, settings, "MURA-v1.1")
    records = sorted((folder / "records").rglob("*.json"))
    stamps = {path: path.stat().st_mtime_ns for path in records}
    records[0].unlink()  # as if the run had been killed before this film
    again = build_cache(films, settings, tmp_path, "MURA-v1.1", workers=1)
    assert again["image_path"].tolist() == crops["image_path"].tolist()
    assert records[0].is_file()
    assert all(path.stat().st_mtime_ns == stamps[path] for path in records[1:])
    other = build_cache(films, PreprocessingSettings("cropped"), tmp_path, "MURA-v1.1", workers=1)
    assert not set(other["image_path"]) & set(crops["image_path"])


def test_unreadable_film_is_recorded(films: pd.DataFrame, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    films = films.head(3).copy()
    films.loc[films.index[0], "image_path"] = str(broken)
    crops = build_cache(films, PreprocessingSettings("full"), tmp_path / "cache", "MURA-v1.1", workers=1)
    bad = crops[crops["status"] == "unreadable"]
    assert bad["film_path"].tolist() == [str(broken)]
    assert "broken.png" in bad["reason"].iloc[0]
    record = json.loads(next((tmp_path / "cache").rglob("records/**/*.json")).read_text())
    assert "status" in record


def test_datamodule_uses_the_cache(synthetic_root: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(synthetic_root, tmp_path / "MURA-v1.1"))
    next((root / "train").rglob("*.png")).write_bytes(b"broken")
    datamodule = Mura(
        root=root,
        image_size=64,
        mask_dir="masks",
        preprocessing=PreprocessingSettings("full"),
        cache_dir=tmp_path / "cache",
        eval_batch_size=4,
    )
    datamodule.setup()
    assert len(datamodule.rejected_films) == 1
    assert all("cache" in path for path in datamodule.test_data.samples["image_path"])
    batch = next(iter(datamodule.test_dataloader()))
    assert batch.image.shape[1:] == (3, 64, 64)
    assert 0 < batch.hand_mask.float().mean() < 1
    datamodule.save_manifest(tmp_path / "run")
    assert (tmp_path / "run" / RECORDS_NAME).is_file()


def test_preprocess_and_sheet_commands(synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from xray_anomalib.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(
        "data:\n"
        "  class_path: xray_anomalib.data.Mura\n"
        "  init_args:\n"
        f"    root: {synthetic_root}\n"
        "    image_size: 64\n"
        f"    cache_dir: {tmp_path / 'cache'}\n"
        "    preprocessing: {variant: full}\n"
        "    film_transform: {class_path: xray_anomalib.data.transforms.HistogramEqualization}\n",
    )
    assert main(["preprocess", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    output = capsys.readouterr().out
    assert "hand crops" in output and "0 unreadable films" in output
    assert (tmp_path / "run" / RECORDS_NAME).is_file()
    films = sorted((synthetic_root / "train").rglob("*.png"))[:3]
    assert main(["preprocess-sheet", *map(str, films), "--out", str(tmp_path / "sheet.png")]) == 0
    assert (tmp_path / "sheet.png").stat().st_size > 1000
    config.write_text("model: {}\n")
    assert main(["preprocess", "--config", str(config)]) == 2
    assert "no 'data' section" in capsys.readouterr().err


def test_two_roots_of_one_name_never_share_crops(synthetic_root: Path, tmp_path: Path) -> None:
    first = Path(shutil.copytree(synthetic_root, tmp_path / "a" / "MURA-v1.1"))
    second = Path(shutil.copytree(synthetic_root, tmp_path / "b" / "MURA-v1.1"))
    victim = sorted((second / "train").rglob("*.png"))[0]
    rel = victim.relative_to(second)
    film = cv2.imread(str(victim), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(victim), 255 - film)  # the second copy holds another film at the same path
    crops = {}
    for root in (first, second):
        datamodule = Mura(
            root=root, image_size=64, preprocessing=PreprocessingSettings("raw"), cache_dir=tmp_path / "c"
        )
        datamodule.setup()
        samples = pd.concat([datamodule.train_data.samples, datamodule.val_data.samples, datamodule.test_data.samples])
        (crop,) = samples.loc[samples["film_path"] == str(root / rel), "image_path"]
        crops[root] = crop
    assert crops[first] != crops[second]
    first_crop, second_crop = (cv2.imread(crops[root], cv2.IMREAD_UNCHANGED) for root in (first, second))
    assert np.abs(first_crop.astype(int) - second_crop.astype(int)).mean() > 1000  # inverted, not shared


def test_a_changed_film_is_preprocessed_again(films: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "film.png"
    shutil.copy(films["image_path"].iloc[0], path)
    films = films.head(1).assign(image_path=str(path), mask_path="")
    settings = PreprocessingSettings("raw")
    crop = build_cache(films, settings, tmp_path / "cache", "MURA-v1.1", workers=1)["image_path"].iloc[0]
    before = cv2.imread(crop, cv2.IMREAD_UNCHANGED).astype(int)
    cv2.imwrite(str(path), 255 - cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))  # same path, new bytes and mtime
    build_cache(films, settings, tmp_path / "cache", "MURA-v1.1", workers=1)
    after = cv2.imread(crop, cv2.IMREAD_UNCHANGED).astype(int)
    assert np.abs(after - (65535 - before)).max() <= 257  # the inverted film, not the stale crop


def test_films_of_a_part_that_fills_the_film_are_kept_whole(films: pd.DataFrame, tmp_path: Path) -> None:
    films = films.head(2).assign(body_part=["XR_HAND", "XR_WRIST"])
    settings = PreprocessingSettings("full", fills_film=("XR_HAND",))
    build_cache(films, settings, tmp_path, "MURA-v1.1", workers=1)
    folder = cache_folder(tmp_path, settings, "MURA-v1.1")
    hand, wrist = (json.loads((folder / "records" / f"{rel}.json").read_text()) for rel in films["rel_path"])
    assert hand["fills_film"] and not hand["carrier_found"] and len(hand["crops"]) == 1
    assert np.allclose(np.array(hand["crops"][0]["matrix"])[:, :2], np.eye(2))  # not deskewed: no carrier crop
    assert not wrist["fills_film"] and wrist["carrier_found"]  # the synthetic films lie on a carrier

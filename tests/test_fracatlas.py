"""FracAtlas as published: counts, implants, body parts, duplicates, masks on the polygons, and bad input."""

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from xray_anomalib.data import CocoError, FracAtlas, read_fracatlas_index, read_metal_review
from xray_anomalib.data.coco import read_coco_regions
from xray_anomalib.data.datamodule import DUPLICATES_NAME, MANIFEST_NAME
from xray_anomalib.data.fracatlas import FRACATLAS_COCO
from xray_anomalib.data.mura import MuraLayoutError


def test_index_counts_the_published_films(fracatlas_root: Path) -> None:
    index = read_fracatlas_index(fracatlas_root)
    assert len(index) == 1279
    assert index["study_label"].sum() == 279
    assert index["hardware"].sum() == 73
    assert index["patient_id"].is_unique and (index["patient_source"] == "film").all()
    assert len(read_fracatlas_index(fracatlas_root, implants="exclude")) == 1279 - 73
    only = read_fracatlas_index(fracatlas_root, implants="only")
    assert len(only) == 73 and only["study_label"].sum() == 72
    hips = read_fracatlas_index(fracatlas_root, body_parts=["hip"])
    assert hips["body_part"].str.contains("hip").all() and 0 < len(hips) < 1279
    with pytest.raises(MuraLayoutError, match=r"No FracAtlas film of \['hand'\]"):  # this copy has no hand films
        read_fracatlas_index(fracatlas_root, body_parts="hand")
    with pytest.raises(MuraLayoutError, match="Unknown FracAtlas body part"):
        read_fracatlas_index(fracatlas_root, body_parts="knee")


def test_metal_review_lists_unflagged_films_of_this_copy(fracatlas_root: Path) -> None:
    review = read_metal_review()
    table = pd.read_csv(fracatlas_root / "dataset.csv").set_index("image_id")
    assert review["image_id"].is_unique and set(review["metal"]) == {"in_body", "on_body"}
    assert set(review["image_id"]) <= set(table.index)
    listed = table.loc[review["image_id"]]
    assert (listed["hardware"] == 0).all()  # the review lists what the flag misses
    assert (listed["fractured"].to_numpy() == review["fractured"].to_numpy()).all()
    assert (review["what"].str.len() > 0).all()


def test_reviewed_metal_leaves_out_the_listed_films(fracatlas_root: Path) -> None:
    def film_names(index: pd.DataFrame) -> set[str]:
        return set(index["rel_path"].map(lambda rel: Path(rel).name))

    review = read_metal_review()
    kept = read_fracatlas_index(fracatlas_root, implants="exclude")
    without_implants = read_fracatlas_index(fracatlas_root, implants="exclude", reviewed_metal="exclude_in_body")
    without_metal = read_fracatlas_index(fracatlas_root, implants="exclude", reviewed_metal="exclude")
    assert film_names(kept) - film_names(without_implants) == set(review.loc[review["metal"] == "in_body", "image_id"])
    assert film_names(kept) - film_names(without_metal) == set(review["image_id"])
    assert kept["study_label"].sum() - without_metal["study_label"].sum() == review["fractured"].sum()
    with pytest.raises(ValueError, match="not a valid ReviewedMetal"):
        read_fracatlas_index(fracatlas_root, reviewed_metal="some")
    with pytest.raises(ValueError, match="expected one of include, exclude, only"):
        read_fracatlas_index(fracatlas_root, implants="some")
    datamodule = FracAtlas(root=fracatlas_root, implants="exclude", reviewed_metal="exclude_in_body")
    assert datamodule.category == "all_no_implants_no_metal_in_body"


def test_datamodule_masks_every_fracture_and_counts_copies_once(fracatlas_root: Path, tmp_path: Path) -> None:
    datamodule = FracAtlas(root=fracatlas_root, image_size=64, cache_dir=tmp_path / "cache")
    datamodule.setup()
    manifest = datamodule.manifest
    assert len(manifest) + len(datamodule.duplicate_films) == 1279
    assert len(datamodule.duplicate_films) == 12
    kept = set(manifest["image_path"])
    assert set(datamodule.duplicate_films["kept_path"]) <= kept
    assert not set(datamodule.duplicate_films["image_path"]) & kept
    assert manifest.groupby("patient_id")["split"].nunique().max() == 1  # no film in two parts
    positives = manifest[manifest["study_label"] == 1]
    assert (positives["mask_path"] != "").all()  # every fractured film masked
    assert (manifest.loc[manifest["study_label"] == 0, "mask_path"] == "").all()
    assert datamodule.test_data.task == "segmentation" and datamodule.test_data.positives_without_mask == 0
    datamodule.save_manifest(tmp_path / "run")
    saved = pd.read_csv(tmp_path / "run" / MANIFEST_NAME)
    assert (saved["patient_source"] == "film").all()
    assert len(pd.read_csv(tmp_path / "run" / DUPLICATES_NAME)) == 12


def test_masks_land_on_the_polygons(fracatlas_root: Path, tmp_path: Path) -> None:
    regions = read_coco_regions(fracatlas_root / FRACATLAS_COCO)
    coco = json.loads((fracatlas_root / FRACATLAS_COCO).read_text())
    area = {}
    for annotation in coco["annotations"]:
        name = next(image["file_name"] for image in coco["images"] if image["id"] == annotation["image_id"])
        area[name] = area.get(name, 0.0) + annotation["area"]
    datamodule = FracAtlas(root=fracatlas_root, image_size=64, cache_dir=tmp_path / "cache")
    manifest = datamodule._manifest()[0]
    masked = manifest[manifest["mask_path"] != ""].head(25)
    for row in masked.itertuples():
        mask = cv2.imread(row.mask_path, cv2.IMREAD_GRAYSCALE) > 0
        film = cv2.imread(row.image_path, cv2.IMREAD_GRAYSCALE)
        assert mask.shape == film.shape, row.rel_path
        name = Path(row.rel_path).name
        for polygon in regions[name].polygons:
            x, y = np.round(polygon.mean(axis=0)).astype(int)  # a fracture polygon is small and nearly convex
            inside = cv2.pointPolygonTest(polygon.astype(np.float32), (float(x), float(y)), measureDist=False) > 0
            assert not inside or mask[y, x], (name, x, y)
        assert mask.sum() == pytest.approx(area[name], rel=0.25), name  # overlapping polygons are counted once


def test_bad_fracatlas_input_names_the_file(fracatlas_copy: Callable[..., Path], tmp_path: Path) -> None:
    root = fracatlas_copy()
    coco_path = root / FRACATLAS_COCO
    coco = json.loads(coco_path.read_text())

    def masks() -> list[str]:
        return FracAtlas(root=root, image_size=64, cache_dir=tmp_path / "cache")._manifest()[0]["mask_path"].tolist()

    assert sum(path != "" for path in masks()) == 6
    outside = json.loads(json.dumps(coco))
    outside["annotations"][0]["segmentation"][0][0] = 5000.0
    coco_path.write_text(json.dumps(outside))
    with pytest.raises(CocoError, match=r"annotations\[0\].*outside the"):
        masks()
    stray = json.loads(json.dumps(coco))
    stray["images"][0]["file_name"] = "IMG9999999.jpg"
    coco_path.write_text(json.dumps(stray))
    with pytest.raises(CocoError, match=r"IMG9999999\.jpg.*not a film"):
        masks()
    coco_path.write_text("{not json")
    with pytest.raises(CocoError, match="not readable JSON"):
        masks()
    coco_path.write_text(json.dumps(coco))
    table = pd.read_csv(root / "dataset.csv")
    table.loc[3, "fractured"] = 2
    table.to_csv(root / "dataset.csv", index=False)
    with pytest.raises(MuraLayoutError, match=r"dataset\.csv, line 5 .*'fractured' is '2'"):
        FracAtlas(root=root).setup()
    lines = (root / "dataset.csv").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"IMG", b"IM\xc9", 1)  # a Latin-1 byte, as a spreadsheet saves it
    (root / "dataset.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(MuraLayoutError, match=r"dataset\.csv, line 3: byte 0xc9 is not UTF-8"):
        FracAtlas(root=root).setup()


def test_a_truncated_or_missing_film_is_counted_not_fatal(fracatlas_copy: Callable[..., Path], tmp_path: Path) -> None:
    root = fracatlas_copy()
    films = sorted((root / "images" / "Non_fractured").glob("*.jpg"))
    films[0].write_bytes(films[0].read_bytes()[:-2000])  # OpenCV decodes a cut JPEG partly, without an error
    films[1].unlink()
    datamodule = FracAtlas(root=root, image_size=64, cache_dir=tmp_path / "cache")
    datamodule.setup()
    reasons = dict(zip(datamodule.rejected_films["image_path"], datamodule.rejected_films["reason"], strict=True))
    assert "truncated" in reasons[str(films[0])]
    assert "not on disk" in reasons[str(films[1])]
    assert len(datamodule.manifest) == 18

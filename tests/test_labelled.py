"""A user's own labelled films: CSV, DICOM ids, COCO or mask folder, and every bad row named."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from films import write_dicom

from xray_anomalib.data import CocoError, LabelledFilms, read_labelled_index
from xray_anomalib.data.mura import MuraLayoutError


@pytest.fixture
def collection(synthetic_root: Path, tmp_path: Path) -> Path:
    """Twelve synthetic films (four anomalous) and a DICOM, listed in labels.csv; patient ids on some rows."""
    root = tmp_path / "films"
    normal = sorted((synthetic_root / "train").rglob("*negative/*.png"))[:8]
    abnormal = sorted((synthetic_root / "train").rglob("*positive/*.png"))[:4]
    rows = []
    for number, film in enumerate([*normal, *abnormal]):
        label = int(number >= len(normal))
        target = root / ("abnormal" if label else "normal") / f"film{number}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(film, target)
        rows.append({"path": target.relative_to(root).as_posix(), "label": label, "patient_id": f"p{number // 2}"})
    write_dicom(
        root / "normal" / "scan.dcm",
        np.full((48, 48), 900),
        "MONOCHROME2",
        tags={"PatientID": "dicom-patient", "StudyInstanceUID": "1.2.3"},
    )
    rows.append({"path": "normal/scan.dcm", "label": 0, "patient_id": ""})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def test_ids_come_from_the_csv_the_dicom_tags_or_the_film(collection: Path) -> None:
    index = read_labelled_index(collection / "labels.csv", collection)
    dicom = index[index["rel_path"] == "normal/scan.dcm"].iloc[0]
    assert (dicom["patient_id"], dicom["study_id"], dicom["patient_source"]) == ("dicom-patient", "1.2.3", "dicom")
    assert set(index.loc[index["rel_path"] != "normal/scan.dcm", "patient_source"]) == {"csv"}
    table = pd.read_csv(collection / "labels.csv").drop(columns="patient_id")
    table.to_csv(collection / "bare.csv", index=False)
    bare = read_labelled_index(collection / "bare.csv", collection)
    assert (bare.loc[bare["rel_path"] != "normal/scan.dcm", "patient_source"] == "film").all()
    assert bare["patient_id"].nunique() == len(bare)


def test_coco_masks_give_partial_pixel_truth(collection: Path, tmp_path: Path) -> None:
    abnormal = sorted((collection / "abnormal").glob("*.png"))
    images, annotations = [], []
    for number, film in enumerate(abnormal[:3]):  # the fourth anomalous film has no mask
        height, width = cv2.imread(str(film), cv2.IMREAD_GRAYSCALE).shape
        images.append({"id": number, "file_name": f"abnormal/{film.name}", "height": height, "width": width})
        annotations.append({"id": number, "image_id": number, "segmentation": [], "bbox": [4, 4, 10, 8]})
    (collection / "coco.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    datamodule = LabelledFilms(
        labels=collection / "labels.csv", coco_file="coco.json", image_size=32, cache_dir=tmp_path / "cache"
    )
    datamodule.setup()
    manifest = datamodule.manifest
    assert (manifest["mask_path"] != "").sum() == 3
    mask = cv2.imread(manifest.loc[manifest["mask_path"] != "", "mask_path"].iloc[0], cv2.IMREAD_GRAYSCALE)
    assert (mask > 0).sum() == 11 * 9  # the box, both edges included
    parts = [datamodule.val_data, datamodule.test_data]
    assert sum(part.positives_without_mask for part in parts) == 1
    assert any(part.task == "segmentation" for part in parts)
    images[0]["file_name"] = "abnormal/elsewhere.png"
    (collection / "coco.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    with pytest.raises(CocoError, match=r"abnormal/elsewhere\.png.*not a film"):
        LabelledFilms(labels=collection / "labels.csv", coco_file="coco.json", cache_dir=tmp_path / "cache").setup()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"path,label\nnormal/a.png,2\n", r"line 2 \(normal/a\.png\): label '2'"),
        (b"path,label\nnormal/a.png,yes\n", r"line 2 .*expected 0 \(normal\) or 1"),
        (b"file,label\nnormal/a.png,0\n", r"lacks column\(s\) \['path'\]"),
        (b"path,label\nnormal/a.png,0\nnormal/a.png,1\n", r"line 3: normal/a\.png is listed again"),
        (b"path,label\nnormal/caf\xe9.png,0\n", r"line 2: byte 0xe9 is not UTF-8"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "labels.csv").write_bytes(content)
    with pytest.raises(MuraLayoutError, match=message) as error:
        read_labelled_index(tmp_path / "labels.csv", tmp_path)
    assert "labels.csv" in str(error.value)


def test_a_missing_film_is_counted_and_a_wrong_root_named(collection: Path, tmp_path: Path) -> None:
    (collection / "normal" / "film0.png").unlink()
    datamodule = LabelledFilms(labels=collection / "labels.csv", image_size=32)
    datamodule.setup()
    assert datamodule.rejected_films["image_path"].tolist() == [str(collection / "normal" / "film0.png")]
    assert "listed but not on disk" in datamodule.rejected_films["reason"].iloc[0]
    with pytest.raises(FileNotFoundError, match="not on disk"):
        LabelledFilms(labels=collection / "labels.csv", root=tmp_path / "elsewhere").setup()

import shutil
from pathlib import Path

import pytest

from xray_anomalib.data.mura import MuraLayoutError, normalise_body_parts, read_mura_index


def test_real_csv_hand_counts(mura_csv_root: Path) -> None:
    index = read_mura_index(mura_csv_root, body_parts="hand", mura_parts=["train"])
    studies = index.drop_duplicates("study_id")
    patients = index.groupby("patient_id")["study_label"].max()
    assert len(index) == 5543
    assert len(studies) == 2018
    assert studies["study_label"].sum() == 521
    assert len(patients) == 1945
    assert patients.sum() == 516
    assert set(index["body_part"]) == {"XR_HAND"}


def test_real_csv_all_parts(mura_csv_root: Path) -> None:
    index = read_mura_index(mura_csv_root, body_parts="all")
    assert len(index) == 40005
    assert len(index[(index.body_part == "XR_HAND") & (index.mura_part == "valid")]) == 460


def test_csv_without_header_reads_the_same(mura_csv_root: Path, tmp_path: Path) -> None:
    for csv_file in mura_csv_root.glob("*.csv"):
        lines = csv_file.read_text().splitlines()[1:]  # Stanford's files have no header line
        (tmp_path / csv_file.name).write_text("\n".join(lines) + "\n")
    with_header = read_mura_index(mura_csv_root, mura_parts=["train"])
    without_header = read_mura_index(tmp_path, mura_parts=["train"])
    assert with_header.drop(columns="image_path").equals(without_header.drop(columns="image_path"))


def test_folder_walk_matches_csv(synthetic_root: Path, tmp_path: Path) -> None:
    from_csv = read_mura_index(synthetic_root)
    copy = tmp_path / "copy"
    shutil.copytree(synthetic_root / "train", copy / "train")
    shutil.copytree(synthetic_root / "valid", copy / "valid")
    walked = read_mura_index(copy)
    assert walked.drop(columns="image_path").equals(from_csv.drop(columns="image_path"))


def test_body_part_names() -> None:
    assert normalise_body_parts(["hand", "XR_WRIST"]) == ("XR_HAND", "XR_WRIST")
    assert len(normalise_body_parts("all")) == 7
    with pytest.raises(MuraLayoutError, match="XR_FOOT"):
        normalise_body_parts("foot")


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_mura_index(tmp_path / "nowhere")


def test_not_mura_shaped(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(MuraLayoutError, match="not MURA-shaped"):
        read_mura_index(tmp_path)


def test_missing_partner_csv(tmp_path: Path) -> None:
    (tmp_path / "train_image_paths.csv").write_text("MURA-v1.1/train/XR_HAND/patient00001/study1_negative/image1.png\n")
    with pytest.raises(MuraLayoutError, match=r"train_labeled_studies\.csv is missing"):
        read_mura_index(tmp_path, mura_parts=["train"])


def test_malformed_csv_row(tmp_path: Path) -> None:
    (tmp_path / "train_image_paths.csv").write_text("MURA-v1.1/train/XR_HAND/patient00001/study1_negative/image1.png\n")
    (tmp_path / "train_labeled_studies.csv").write_text("MURA-v1.1/train/XR_HAND/patient00001/study1_negative/\n")
    with pytest.raises(MuraLayoutError, match="expected 2"):
        read_mura_index(tmp_path, mura_parts=["train"])


def test_a_csv_that_is_not_utf8_names_its_file_and_line(tmp_path: Path) -> None:
    study = "MURA-v1.1/train/XR_HAND/patient00001/study1_negative/"
    (tmp_path / "train_image_paths.csv").write_bytes(f"{study}image1.png\n{study}caf".encode() + b"\xe9.png\n")
    (tmp_path / "train_labeled_studies.csv").write_text(f"{study},0\n")
    with pytest.raises(MuraLayoutError, match=r"train_image_paths\.csv, line 2: byte 0xe9 is not UTF-8"):
        read_mura_index(tmp_path, mura_parts=["train"])


def test_bad_label_and_unlabelled_study(tmp_path: Path) -> None:
    study = "MURA-v1.1/train/XR_HAND/patient00001/study1_negative/"
    (tmp_path / "train_image_paths.csv").write_text(
        f"{study}image1.png\nMURA-v1.1/train/XR_HAND/patient00002/study1_negative/image1.png\n"
    )
    (tmp_path / "train_labeled_studies.csv").write_text(f"{study},maybe\n")
    with pytest.raises(MuraLayoutError, match="expected 0 or 1"):
        read_mura_index(tmp_path, mura_parts=["train"])
    (tmp_path / "train_labeled_studies.csv").write_text(f"{study},0\n")
    with pytest.raises(MuraLayoutError, match="does not label"):
        read_mura_index(tmp_path, mura_parts=["train"])


def test_entry_outside_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train_image_paths.csv").write_text("MURA-v1.1/train/../../etc/passwd\n")
    (tmp_path / "train_labeled_studies.csv").write_text("MURA-v1.1/train/XR_HAND/patient00001/study1_negative/,0\n")
    with pytest.raises(MuraLayoutError, match="outside the dataset root"):
        read_mura_index(tmp_path, mura_parts=["train"])


def test_study_folder_without_label(tmp_path: Path) -> None:
    study = tmp_path / "train" / "XR_HAND" / "patient00001" / "study1"
    study.mkdir(parents=True)
    (study / "image1.png").write_bytes(b"")
    with pytest.raises(MuraLayoutError, match="has no label"):
        read_mura_index(tmp_path, mura_parts=["train"])


def test_unknown_body_part_in_data(synthetic_root: Path) -> None:
    with pytest.raises(MuraLayoutError, match="No images of"):
        read_mura_index(synthetic_root, body_parts="XR_WRIST")

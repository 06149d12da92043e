from pathlib import Path

import pandas as pd
import pytest

from xray_anomalib.cli import main
from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.data.split import (
    SplitError,
    check_patient_wise,
    patient_wise_split,
    read_manifest,
    summarize_split,
    write_manifest,
)


@pytest.fixture(scope="module")
def real_hand_index() -> pd.DataFrame:
    from conftest import MURA_CSV, require_shared_data

    require_shared_data(MURA_CSV.is_dir(), "real MURA CSVs", MURA_CSV)
    return read_mura_index(MURA_CSV, mura_parts=["train"])


def test_paper_sizes_on_real_metadata(real_hand_index: pd.DataFrame) -> None:
    for seed in range(4):
        summary = summarize_split(patient_wise_split(real_hand_index, seed=seed))
        for split, paper in (("train", 2554), ("val", 1494), ("test", 1495)):
            assert abs(summary.loc[split, "images"] - paper) <= 50, (seed, split, summary.loc[split, "images"])
        assert summary.loc["train", "images_positive"] == 0
        assert summary.loc["val", "patients_positive"] + summary.loc["test", "patients_positive"] == 516


def test_no_patient_shared_over_many_seeds(real_hand_index: pd.DataFrame) -> None:
    for seed in range(25):
        manifest = patient_wise_split(real_hand_index, seed=seed)
        assert manifest.groupby("patient_id")["split"].nunique().max() == 1
        assert len(manifest) == len(real_hand_index)
        train = manifest[manifest["split"] == "train"]
        assert train["study_label"].sum() == 0
        val_test = manifest[manifest["split"] != "train"].groupby("split")
        positives = val_test.apply(lambda part: part.groupby("patient_id")["study_label"].max().sum())
        negatives = val_test.apply(lambda part: (part.groupby("patient_id")["study_label"].max() == 0).sum())
        assert (positives == negatives).all()


def test_split_is_deterministic_and_seeded(synthetic_root: Path) -> None:
    index = read_mura_index(synthetic_root)
    assert patient_wise_split(index, seed=5).equals(patient_wise_split(index, seed=5))
    assert not patient_wise_split(index, seed=5).equals(patient_wise_split(index, seed=6))


def test_manifest_round_trip(synthetic_root: Path, tmp_path: Path) -> None:
    manifest = patient_wise_split(read_mura_index(synthetic_root), seed=1)
    back = read_manifest(write_manifest(manifest, tmp_path / "m.csv"), synthetic_root)
    assert back["rel_path"].tolist() == manifest["rel_path"].tolist()
    assert back["split"].tolist() == manifest["split"].tolist()
    assert back["image_path"].tolist() == manifest["image_path"].tolist()


def test_leaking_manifest_is_refused(synthetic_root: Path, tmp_path: Path) -> None:
    manifest = patient_wise_split(read_mura_index(synthetic_root), seed=1)
    patient = manifest.loc[manifest["split"] == "test", "patient_id"].iloc[0]
    leaked = pd.concat([manifest, manifest[manifest["patient_id"] == patient].assign(split="train", study_label=0)])
    with pytest.raises(SplitError, match="more than one part"):
        check_patient_wise(leaked)
    write_manifest(leaked, tmp_path / "leak.csv")
    with pytest.raises(SplitError):
        read_manifest(tmp_path / "leak.csv", synthetic_root)


def test_no_positive_patients(synthetic_root: Path) -> None:
    index = read_mura_index(synthetic_root)
    with pytest.raises(SplitError, match="No patient has a positive study"):
        patient_wise_split(
            index[index["study_label"] == 0].groupby("patient_id").filter(lambda g: g["study_label"].max() == 0)
        )


def test_mura_mode_uses_valid_as_test(synthetic_root: Path) -> None:
    index = read_mura_index(synthetic_root, mura_parts=["train", "valid"])
    manifest = patient_wise_split(index, seed=0, mode="mura")
    assert set(manifest.loc[manifest["split"] == "test", "mura_part"]) == {"valid"}
    assert set(manifest.loc[manifest["split"] != "test", "mura_part"]) == {"train"}
    with pytest.raises(SplitError, match="valid"):
        patient_wise_split(read_mura_index(synthetic_root, mura_parts=["train"]), mode="mura")


def test_split_command(synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["split", str(synthetic_root), "--seed", "2", "--out", str(tmp_path / "m.csv")]) == 0
    output = capsys.readouterr().out
    assert "train" in output and "patients (pos/neg)" in output
    assert (tmp_path / "m.csv").is_file()
    assert main(["split", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err

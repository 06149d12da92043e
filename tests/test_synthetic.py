import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from xray_anomalib.cli import main
from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.data.synthetic import ANOMALY_MASK_DIR, HAND_MASK_DIR, TRUTH_CSV, write_synthetic_mura
from xray_anomalib.data.synthetic_hand import ANOMALY_KINDS, draw_film
from xray_anomalib.io.films import read_film


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.png")) + sorted(root.glob("*.csv")):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_files(tmp_path: Path) -> None:
    first = write_synthetic_mura(tmp_path / "a", n_patients=10, seed=7, longest_side=48)
    second = write_synthetic_mura(tmp_path / "b", n_patients=10, seed=7, longest_side=48)
    other = write_synthetic_mura(tmp_path / "c", n_patients=10, seed=8, longest_side=48)
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(other)


def test_layout_truth_and_masks(synthetic_root: Path) -> None:
    index = read_mura_index(synthetic_root)
    truth = pd.read_csv(synthetic_root / TRUTH_CSV, keep_default_na=False)
    assert len(truth) == len(index)
    assert set(index["mura_part"]) == {"train", "valid"}
    assert index.drop_duplicates("study_id")["study_label"].sum() > 0
    for rel, label in zip(index["rel_path"], index["study_label"], strict=True):
        assert (synthetic_root / HAND_MASK_DIR / rel).is_file()
        assert (synthetic_root / ANOMALY_MASK_DIR / rel).is_file() == bool(label)
    assert set(truth.loc[truth["anomaly_kind"] != "", "anomaly_kind"]) <= set(ANOMALY_KINDS)


def test_films_have_hands_anomalies_and_borders() -> None:
    rng = np.random.default_rng(0)
    for kind in ANOMALY_KINDS:
        film = draw_film(rng, 128, anomaly=kind, two_hands=kind == "metal")
        assert film.film.dtype == np.float32 and film.film.min() >= 0 and film.film.max() <= 1
        assert 0.05 < film.hand_mask.mean() < 0.8
        assert film.anomaly_mask.sum() > 0
        assert len(film.hand_boxes) == (2 if kind == "metal" else 1)
    normal = draw_film(np.random.default_rng(1), 128)
    assert normal.anomaly_mask.sum() == 0


def test_synth_command_writes_contact_sheet(tmp_path: Path) -> None:
    assert (
        main(
            [
                "synth",
                str(tmp_path / "root"),
                "--patients",
                "12",
                "--size",
                "64",
                "--sheet",
                str(tmp_path / "sheet.png"),
            ]
        )
        == 0
    )
    sheet = read_film(tmp_path / "sheet.png").pixels
    assert sheet.shape[0] >= 192 and sheet.std() > 0.05

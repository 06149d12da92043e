"""The realistic benchmark dataset: real normal films as MURA, anomalies painted on bone with their masks."""

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import RSNA_HANDS, require_shared_data

from xray_anomalib.cli import main
from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.data.painted import TRUTH_CSV, bone_mask, paint_anomaly, write_painted_mura
from xray_anomalib.data.synthetic_hand import ANOMALY_KINDS, draw_film
from xray_anomalib.film_pipeline.steps import fix_inversion, segment_whole_film
from xray_anomalib.io.films import read_film

FAINT_FILMS = ("2081.png", "2329.png", "4218.png")


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_kind_changes_only_bone_near_its_mask(kind: str) -> None:
    rng = np.random.default_rng(4)
    synthetic = draw_film(rng, 256, anomaly="", two_hands=False)
    film = np.where(synthetic.inverted, 1 - synthetic.film, synthetic.film).astype(np.float32)
    before = film.copy()
    mask, placed = paint_anomaly(film, synthetic.hand_mask, kind, rng)
    assert mask.sum() > 0 and placed["pixels"] == mask.sum()
    assert bone_mask(before, synthetic.hand_mask)[placed["y"], placed["x"]]
    changed = np.abs(film - before) > 0.02
    near = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert changed.any() and not (changed & ~near).any()
    direction = np.sign((film - before)[mask].mean())
    assert direction == (-1 if kind in {"fracture", "lytic_lesion"} else 1)


@pytest.mark.slow
def test_real_films_become_a_painted_mura_root(tmp_path: Path) -> None:
    require_shared_data(RSNA_HANDS.is_dir(), "real hand films", RSNA_HANDS)
    source = tmp_path / "films"
    source.mkdir()
    for path in sorted(RSNA_HANDS.glob("*.png"))[:30]:
        shutil.copy(path, source / path.name)
    (source / "broken.png").write_bytes(b"not a film")
    root = tmp_path / "painted" / "MURA-v1.1"
    assert main(["paint", str(source), str(root), "--seed", "1", "--positive-share", "0.5"]) == 0
    index = read_mura_index(root, mura_parts=["train", "valid"])
    truth = pd.read_csv(root / TRUTH_CSV)
    rejected = pd.read_csv(root / "rejected_films.csv")
    assert str(source / "broken.png") in rejected["film_path"].tolist()
    assert len(index) + len(rejected) == 31  # every source film is either in the dataset or listed as rejected
    positives = index[index["study_label"] == 1]
    assert len(positives) > 3
    for rel in positives["rel_path"]:
        mask = cv2.imread(str(root / "masks" / rel), cv2.IMREAD_GRAYSCALE)
        assert mask is not None and (mask > 0).sum() > 0
    assert truth.loc[truth["anomaly_kind"].notna(), "anomaly_kind"].isin(ANOMALY_KINDS).all()
    again = tmp_path / "again" / "MURA-v1.1"
    write_painted_mura(source, again, seed=1, positive_patient_share=0.5)
    first = (root / positives["rel_path"].iloc[0]).read_bytes()
    assert (again / positives["rel_path"].iloc[0]).read_bytes() == first  # same seed, same dataset


def test_a_folder_without_films_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["paint", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "No films" in capsys.readouterr().err


def test_faint_films_are_painted_inside_the_body_the_film_pipeline_finds(tmp_path: Path) -> None:
    # grainy low-contrast RSNA films, where only the film pipeline's lower threshold finds the hand
    require_shared_data(RSNA_HANDS.is_dir(), "real hand films", RSNA_HANDS)
    source = tmp_path / "films"
    source.mkdir()
    for name in FAINT_FILMS:
        shutil.copy(RSNA_HANDS / name, source / name)
    root = write_painted_mura(source, tmp_path / "MURA-v1.1", seed=0, positive_patient_share=1.0)
    assert pd.read_csv(root / "rejected_films.csv").empty
    painted = pd.read_csv(root / TRUTH_CSV).dropna(subset=["anomaly_kind"])
    assert len(painted) >= 1
    for row in painted.itertuples():
        film = fix_inversion(read_film(root / row.rel_path).pixels)[0]
        body, faint = segment_whole_film(film)
        assert faint, row.source  # nothing passes the usual threshold on these films
        mask = cv2.imread(str(root / "masks" / row.rel_path), cv2.IMREAD_GRAYSCALE) > 0
        assert (mask & body).sum() >= 0.9 * mask.sum(), row.source

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from xray_anomalib.data import Mura, XrayBatch
from xray_anomalib.data.datamodule import MANIFEST_NAME, REJECTED_NAME
from xray_anomalib.data.split import read_manifest
from xray_anomalib.film_pipeline import PreprocessingSettings


@pytest.fixture
def copied_root(synthetic_root: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synthetic_root, tmp_path / "MURA-v1.1"))


def test_parts_batches_and_masks(synthetic_root: Path) -> None:
    datamodule = Mura(
        root=synthetic_root, image_size=64, mask_dir="masks", hand_mask_dir="hand_masks", eval_batch_size=8
    )
    datamodule.setup()
    manifest = datamodule.manifest
    assert len(datamodule.train_data) + len(datamodule.val_data) + len(datamodule.test_data) == len(manifest)
    assert datamodule.train_data.samples["label_index"].sum() == 0
    batch = next(iter(datamodule.test_dataloader()))
    assert isinstance(batch, XrayBatch)
    assert batch.image.shape[1:] == (3, 64, 64)
    assert batch.hand_mask.shape == (8, 64, 64) and batch.hand_mask.dtype == torch.bool
    assert batch.gt_mask is not None
    anomalous = batch.gt_label.bool()
    assert anomalous.any() and (batch.gt_mask[anomalous].flatten(1).sum(1) > 0).all()
    assert not batch.gt_mask[~anomalous].any()
    # the painted anomalies lie on the hand: masks, hand masks and films stay aligned through the letterbox
    inside = (batch.gt_mask & batch.hand_mask).sum() / batch.gt_mask.sum()
    assert inside > 0.9
    assert torch.equal(batch.image[:, 0], batch.image[:, 2])


def test_a_raw_model_sees_the_whole_film_and_is_judged_inside_the_body(
    full_datamodule: Callable[..., Mura],
) -> None:
    raw = full_datamodule(preprocessing=PreprocessingSettings("raw"), hand_mask_dir=None)
    raw.setup()
    batch = next(iter(raw.test_dataloader()))
    hand, body = batch.hand_mask, batch.body_mask
    film = batch.image[:, 0] > 0  # the letterbox pads with zeros; the synthetic film is never exactly 0
    assert torch.equal(hand, film | hand) and (hand & ~film).float().mean() < 0.01  # the model's mask: the film
    assert body.shape == hand.shape and not (body & ~hand).any()
    assert (body.flatten(1).sum(1) / hand.flatten(1).sum(1)).max() < 0.9  # the background is left out
    assert (batch.gt_mask & body).sum() > 0.9 * batch.gt_mask.sum()  # the anomalies lie in the body
    training = next(iter(raw.train_dataloader()))  # nothing reads the body in training: it is not read
    covered = training.body_mask.flatten(1).sum(1) / (training.image[:, 0] > 0).flatten(1).sum(1)
    assert torch.equal(training.body_mask, training.hand_mask) and covered.min() > 0.95  # the whole film


def test_manifest_saved_and_reused(synthetic_root: Path, tmp_path: Path) -> None:
    first = Mura(root=synthetic_root, image_size=64, seed=4)
    first.setup()
    path = first.save_manifest(tmp_path)
    assert path.name == MANIFEST_NAME
    again = Mura(root=synthetic_root, image_size=64, seed=99, manifest=path)
    again.setup()
    assert again.manifest["rel_path"].tolist() == first.manifest["rel_path"].tolist()
    assert read_manifest(path, synthetic_root)["split"].tolist() == first.manifest["split"].tolist()


def test_corrupt_film_is_reported_and_counted(copied_root: Path, tmp_path: Path) -> None:
    victim = next((copied_root / "train").rglob("*.png"))
    victim.write_bytes(b"not a png")
    datamodule = Mura(root=copied_root, image_size=64, split_mode="paper", mura_parts=["train"])
    datamodule.setup()
    assert datamodule.rejected_films["image_path"].tolist() == [str(victim)]
    assert "not a readable image" in datamodule.rejected_films["reason"].iloc[0]
    assert str(victim) not in set(datamodule.manifest["image_path"])
    datamodule.save_manifest(tmp_path)
    assert pd.read_csv(tmp_path / REJECTED_NAME)["image_path"].tolist() == [str(victim)]


def test_missing_films_name_the_root(copied_root: Path) -> None:
    shutil.rmtree(copied_root / "train")
    with pytest.raises(FileNotFoundError, match="not on disk"):
        Mura(root=copied_root, image_size=64).setup()


def test_synthetic_default_is_written_on_first_use(tmp_path: Path) -> None:
    datamodule = Mura(
        root=None, synthetic_root=tmp_path / "synthetic", synthetic_patients=30, synthetic_image_size=48, image_size=32
    )
    datamodule.setup()
    assert (tmp_path / "synthetic" / "train_image_paths.csv").is_file()
    assert datamodule.test_data.task == "segmentation"


def test_a_body_part_that_fills_the_film_but_no_film_has_is_warned_of(
    full_datamodule: Callable[..., Mura], caplog: pytest.LogCaptureFixture
) -> None:
    datamodule = full_datamodule(preprocessing=PreprocessingSettings("full", fills_film=("XR_HAND", "XR_HIPS")))
    with caplog.at_level(logging.INFO, logger="xray_anomalib.data.datamodule"):
        datamodule.setup()
    messages = [record.getMessage() for record in caplog.records]
    assert any("['XR_HIPS'], which no film of this dataset has; its body parts are ['XR_HAND']" in m for m in messages)
    assert datamodule.preprocessing_records is not None
    total = datamodule.preprocessing_records["film_path"].nunique()  # every film: the synthetic ones all read
    assert any(f"{total} of {total} film(s) are of a body part that fills the film" in m for m in messages)

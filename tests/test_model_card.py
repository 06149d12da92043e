"""Model cards: what a model was trained on and how it did, beside every tested run and every export."""

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.deploy import Predictor
from xray_anomalib.deploy.backends import find_model_card
from xray_anomalib.models.components.model_card import (
    CARD_JSON,
    CARD_MARKDOWN,
    CHECKPOINT_KEY,
    ModelCard,
    data_section,
    format_metric,
    grouped_metrics,
)
from xray_anomalib.registry import build_model

TINY_CAE = {"channels": [8, 16, 32], "bottleneck_channels": 32, "score": "topk", "top_k": 50}


def test_interval_ends_are_grouped_with_their_metric() -> None:
    metrics = {"image_AUROC": 0.7, "image_AUROC_ci_low": 0.6, "image_AUROC_ci_high": 0.8, "pixel_AUROC": 0.9}
    grouped = grouped_metrics(metrics)
    assert grouped == {"image_AUROC": {"value": 0.7, "low": 0.6, "high": 0.8}, "pixel_AUROC": 0.9}
    assert format_metric(grouped["image_AUROC"]) == "0.700 [0.600, 0.800]"
    assert format_metric(float("nan")) == "n/a"
    assert grouped_metrics({"val_image_AUROC": 0.5}, prefix="val_") == {"image_AUROC": 0.5}


def test_a_card_reads_back_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    card = ModelCard(model={"name": "Cae", "class_path": "x.Cae", "hyperparameters": {"lr": 0.1}}, data={})
    card.test = {"data": {"datamodule": "x"}, "metrics": {"image_AUROC": {"value": 0.7, "low": 0.6, "high": 0.8}}}
    markdown = card.write(tmp_path)
    assert ModelCard.read(tmp_path) == card
    text = markdown.read_text()
    assert "| image_AUROC | 0.700 [0.600, 0.800] |" in text
    assert "Not a diagnosis" in text
    assert ModelCard.read(tmp_path / "elsewhere") is None
    (tmp_path / CARD_JSON).write_text(json.dumps(card.to_dict() | {"version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        ModelCard.read(tmp_path)
    (tmp_path / CARD_JSON).write_text("{broken")
    with pytest.raises(ValueError, match=CARD_JSON):
        ModelCard.read(tmp_path)


def test_the_data_section_counts_the_split_and_hashes_the_manifest(synthetic_root: Path, tmp_path: Path) -> None:
    datamodule = Mura(root=synthetic_root, image_size=64, mask_dir="masks")
    datamodule.setup()
    manifest = datamodule.manifest
    assert manifest is not None
    section = data_section(datamodule)
    for split in ("train", "val", "test"):
        part = manifest[manifest["split"] == split]
        assert section["films"][split] == {
            "films": len(part),
            "anomalous": int(part["study_label"].sum()),
            "patients": part["patient_id"].nunique(),
        }
    assert section["films"]["train"]["anomalous"] == 0
    assert section["films_per_body_part"] == {"XR_HAND": {s: section["films"][s]["films"] for s in section["films"]}}
    written = datamodule.save_manifest(tmp_path)
    assert section["split_manifest_sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
    assert section["settings"]["body_parts"] == ["XR_HAND"]


@pytest.mark.slow
def test_a_tested_run_and_its_export_carry_the_card(full_datamodule: Callable[..., Mura], tmp_path: Path) -> None:
    engine = Engine(max_epochs=3, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    model = build_model("cae", image_size=64, **{**TINY_CAE, "lr": 0.01})
    datamodule = full_datamodule()
    engine.fit(model=model, datamodule=datamodule)
    engine.test(model=model, datamodule=datamodule)
    run = Path(engine.trainer.default_root_dir)
    card = ModelCard.read(run)
    assert card is not None and (run / CARD_MARKDOWN).is_file()
    kept = engine.trainer.checkpoint_callback
    assert card.training["epoch"] == kept.kept_epoch  # type: ignore[union-attr]
    assert card.training["validation"]["image_AUROC"]["value"] == pytest.approx(kept.kept_figure)  # type: ignore[union-attr]
    printed = engine.trainer.callback_metrics
    assert card.test is not None
    for name in ("image_AUROC", "image_sensitivity_at_90_specificity", "study_AUROC"):
        metric = card.test["metrics"][name]
        assert metric["value"] == pytest.approx(float(printed[name]))
        assert metric["low"] <= metric["value"] <= metric["high"]
    assert card.data["films"]["train"]["films"] == int((datamodule.manifest["split"] == "train").sum())
    assert card.threshold["image_threshold"] == pytest.approx(float(model.post_processor.normalized_image_threshold))
    assert card.preparation["preprocessing"]["variant"] == "full"

    checkpoint = torch.load(kept.best_model_path, map_location="cpu", weights_only=False)  # type: ignore[union-attr]
    assert checkpoint[CHECKPOINT_KEY]["training"] == card.training  # the kept epoch's card is in its checkpoint
    assert checkpoint[CHECKPOINT_KEY]["test"] is None
    loaded = type(model).load_from_checkpoint(kept.best_model_path)  # type: ignore[union-attr]
    xml = loaded.to_openvino(tmp_path / "export")
    exported = ModelCard.read(xml.parent)
    assert exported is not None and exported.test == card.test  # taken from the run folder: the same weights
    assert find_model_card(xml.parent) == exported
    assert find_model_card(kept.best_model_path).test == card.test  # type: ignore[union-attr]
    assert "test image_AUROC" in Predictor(xml.parent).card.headline()  # type: ignore[union-attr]

    stale = json.loads((run / CARD_JSON).read_text())
    stale["training"]["epoch"] += 1
    (run / CARD_JSON).write_text(json.dumps(stale))
    other = loaded.to_openvino(tmp_path / "other")
    assert ModelCard.read(other.parent).test is None  # type: ignore[union-attr]  # not these weights' test
    assert "Not recorded for these weights" in (other.parent / CARD_MARKDOWN).read_text()


def test_a_broken_card_is_left_out_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / CARD_JSON).write_text("[]" + "x")
    with caplog.at_level(logging.WARNING):
        assert find_model_card(tmp_path) is None
    assert CARD_JSON in caplog.text


def test_headline_says_when_no_test_was_recorded() -> None:
    card = ModelCard(model={"name": "Padim"}, data={"root": "/data", "films": {"train": {}}})
    headline = card.headline()
    assert headline["test"] == "not recorded for these weights"
    assert headline["trained on"] == "/data (films unknown)"
    assert headline["epoch kept"] == "unknown"

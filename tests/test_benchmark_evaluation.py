"""The benchmark's evaluation is ``anomalib test``'s: the same metrics give the same figures on the same model."""

from collections.abc import Callable
from pathlib import Path

import pytest
from anomalib.engine import Engine
from anomalib.post_processing import PostProcessor
from lightning.pytorch import seed_everything

from xray_anomalib.benchmark import score_films
from xray_anomalib.benchmark.evaluation import PIXEL_COLUMNS
from xray_anomalib.data import Mura
from xray_anomalib.metrics import pixel_metrics
from xray_anomalib.registry import build_model

TOLERANCE = 1e-5


def test_every_pixel_metric_of_the_evaluator_has_a_report_column() -> None:
    assert sorted(metric.name for metric in pixel_metrics()) == sorted(PIXEL_COLUMNS)


@pytest.mark.slow
def test_benchmark_figures_equal_anomalib_test_on_the_models_own_score(
    full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    """Without anomalib's normalisation (which clamps scores beyond the validation range into ties) both agree.

    One test batch: torchmetrics turns a batch of predictions outside ``[0, 1]`` into their sigmoid, batch by batch,
    so raw maps of several batches would be ranked on different scales (the benchmark scales all maps together).
    """
    seed_everything(0)
    model = build_model(
        "cae",
        image_size=64,
        channels=[8, 16, 32],
        bottleneck_channels=32,
        score="topk",
        top_k=50,
        post_processor=PostProcessor(enable_normalization=False),
    )
    datamodule = full_datamodule(eval_batch_size=1024)
    engine = Engine(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    engine.fit(model=model, datamodule=datamodule)
    (printed,) = engine.test(model=model, datamodule=datamodule, ckpt_path=None)
    benchmark = score_films(model, datamodule).metrics.set_index("score").loc["topk"]
    assert benchmark["positives_without_mask"] == printed["pixel_positives_without_mask"]
    assert benchmark["image_auroc"] == pytest.approx(printed["image_AUROC"], abs=TOLERANCE)
    for name, column in PIXEL_COLUMNS.items():
        assert benchmark[column] == pytest.approx(printed[name], abs=TOLERANCE), name
    validation = score_films(model, datamodule, "val")
    assert validation.films["study_id"].tolist() == datamodule.val_data.samples["study_id"].tolist()
    assert 0 <= validation.metrics.set_index("score").loc["topk", "pixel_auroc_in_body"] <= 1
    with pytest.raises(ValueError, match="split must be one of"):
        score_films(model, datamodule, "train")

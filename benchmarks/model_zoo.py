"""Benchmark of the model zoo: every model's config trained on the synthetic default, each of its scores measured.

For each model and image size: seconds per epoch (training plus the validation pass), parameters, inference
milliseconds per film (torch eager and OpenVINO f32, one film at a time), and for every score the model computes
the test image AUROC, pixel AUROC, AUPRO and the share of anomalous films whose heatmap peak lies on the anomaly (with
its chance level). Model settings come from ``configs/<model>.yaml`` (image size overridden), so the table
describes what ``anomalib train --config`` trains. Writes a CSV and prints a Markdown table:

    python benchmarks/model_zoo.py --sizes 128 256 --epochs 15 5 --out docs/model_zoo.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import yaml
from anomalib.deploy import ExportType
from anomalib.engine import Engine
from lightning.pytorch import seed_everything
from model_speed import inference_ms

from xray_anomalib.benchmark.evaluation import score_films
from xray_anomalib.data import Mura
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.registry import build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
COLUMNS = [
    "model",
    "px",
    "score",
    "image_auroc",
    "pixel_auroc",
    "aupro",
    "peak_hit",
    "peak_chance",
    "epoch_s",
    "params",
    "torch_ms",
    "ov_f32_ms",
]


def config_args(name: str, size: int) -> dict:
    """The model's ``init_args`` from its config, at ``size`` px."""
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    return {**config["model"]["init_args"], "image_size": size}


def benchmark(name: str, size: int, epochs: int, work: Path, repeats: int) -> list[dict]:
    """Train one model from its config at one size, score every film with every score, time inference."""
    seed_everything(0)
    datamodule = Mura(
        root=None,
        image_size=size,
        mask_dir="masks",
        preprocessing=PreprocessingSettings("full"),
        train_batch_size=16,
        eval_batch_size=32,
    )
    model = build_model(name, **config_args(name, size))
    engine = Engine(max_epochs=epochs, default_root_dir=work / "results", enable_progress_bar=False, logger=False)
    start = time.perf_counter()
    engine.fit(model=model, datamodule=datamodule)
    epoch_seconds = (time.perf_counter() - start) / epochs
    xml = engine.export(model=model, export_type=ExportType.OPENVINO, export_root=work / f"export_{name}_{size}")
    batch = next(iter(datamodule.test_dataloader()))
    timings = inference_ms(model, xml, batch.image[:1], batch.hand_mask[:1].unsqueeze(1).float(), repeats, ("f32",))
    shared = {
        "model": name,
        "px": size,
        "epoch_s": round(epoch_seconds, 1),
        "params": sum(parameter.numel() for parameter in model.model.parameters()),
        "torch_ms": round(timings["torch"], 1),
        "ov_f32_ms": round(timings["f32"], 1),
    }
    metrics = score_films(model, datamodule).metrics
    return [{**shared, **row} for row in metrics[COLUMNS[2:8]].to_dict("records")]


def main() -> None:
    """Parse arguments, run the grid, write the CSV and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--epochs", type=int, nargs="+", default=[15, 5], help="one per size")
    parser.add_argument("--models", nargs="+", default=["cae", "vae", "dcgan", "bigan", "alphagan"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path("results/model_zoo"))
    parser.add_argument("--out", type=Path, default=Path("results/model_zoo.csv"))
    args = parser.parse_args()
    if len(args.epochs) != len(args.sizes):
        parser.error("give one --epochs value per --sizes value")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS), flush=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for size, epochs in zip(args.sizes, args.epochs, strict=True):
            for name in args.models:
                for row in benchmark(name, size, epochs, args.work, args.repeats):
                    writer.writerow(row)
                    handle.flush()
                    cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in COLUMNS]
                    print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

"""Prediction benchmarks: end-to-end films per second, OpenVINO vs torch, and FP16 / INT8 exports.

Part 1 (throughput): a CAE with the default config's architecture is trained briefly at each size (its weights do
not matter for speed), then ``predict_folder`` scores real films (read + preprocess + infer + map back +
overlay and report), once with the OpenVINO backend and once with torch. The share of time per stage is summed
over films (reading and preprocessing run in threads ahead of the model).

Part 2 (compression): a CAE trained as ``configs/cae.yaml`` (fewer epochs) is exported in f32, FP16, INT8 weight
compression and INT8 post-training quantization (anomalib's NNCF path, calibrated on the validation films with
their hand masks); each export scores the test films, and its image AUROC, largest score change against f32 and
ms per film are recorded.

Usage:
    python benchmarks/predict_throughput.py --films ../shared/data/rsna-hands/images --count 100
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import openvino as ov
import pandas as pd
from anomalib.deploy import CompressionType
from anomalib.engine import Engine
from lightning.pytorch import seed_everything
from sklearn.metrics import roc_auc_score

from xray_anomalib.data import Mura
from xray_anomalib.data.transforms import HistogramEqualization
from xray_anomalib.deploy import Predictor, predict_folder
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.registry import build_model

CAE_ARGS = {"channels": [16, 32, 64, 128], "bottleneck_channels": 128, "score": "topk", "top_k": 200}
STAGES = ("read", "preprocess", "infer", "map_back", "overlay")
COMPRESSIONS = {
    "f32": None,
    "fp16": CompressionType.FP16,
    "int8": CompressionType.INT8,
    "int8_ptq": CompressionType.INT8_PTQ,
}


def datamodule(size: int) -> Mura:
    """The synthetic default with the full preprocessing and equalisation."""
    return Mura(
        image_size=size,
        preprocessing=PreprocessingSettings("full"),
        film_transform=HistogramEqualization(),
        train_batch_size=16,
        eval_batch_size=16,
    )


def train(size: int, work: Path, epochs: int, batches: int | None = None) -> tuple[object, Mura, Path]:
    """Train a CAE; return the module, its datamodule and its run folder."""
    seed_everything(0)
    data = datamodule(size)
    model = build_model("cae", image_size=size, **CAE_ARGS)
    limits = {} if batches is None else {"limit_train_batches": batches, "limit_val_batches": batches}
    engine = Engine(
        max_epochs=epochs, default_root_dir=work / f"run{size}", enable_progress_bar=False, logger=False, **limits
    )
    engine.fit(model=model, datamodule=data)
    return model, data, Path(engine.trainer.checkpoint_callback.best_model_path).parents[2]


def throughput(films: Path, count: int, sizes: list[int], work: Path) -> pd.DataFrame:
    """Films per second and stage shares per size and backend."""
    subset = work / "films"
    subset.mkdir(parents=True, exist_ok=True)
    for path in sorted(films.iterdir())[:count]:
        shutil.copy(path, subset / path.name)
    rows = []
    for size in sizes:
        _, _, run = train(size, work, epochs=1, batches=2)
        for backend in ("openvino", "torch"):
            predictor = Predictor(run, backend=backend)
            summary = predict_folder(predictor, subset, work / f"out_{size}_{backend}", progress=False)
            total = sum(summary.stage_seconds.values())
            rows.append(
                {
                    "px": size,
                    "backend": backend,
                    "films": summary.films,
                    "scored": summary.scored,
                    "films_per_s": round(summary.films / summary.seconds, 1),
                    **{f"{stage}_%": round(100 * summary.stage_seconds.get(stage, 0) / total, 1) for stage in STAGES},
                    "infer_ms_per_film": round(1000 * summary.stage_seconds["infer"] / summary.scored, 1),
                }
            )
            print(rows[-1])
    return pd.DataFrame(rows)


def compression(size: int, epochs: int, work: Path) -> pd.DataFrame:
    """Image AUROC, score change and speed of each export of one trained CAE on the test films."""
    model, data, _ = train(size, work, epochs=epochs)
    batches = list(data.test_dataloader())
    labels = np.concatenate([batch.gt_label.numpy() for batch in batches])
    rows, reference = [], None
    for name, kind in COMPRESSIONS.items():
        xml = model.to_openvino(work / f"export_{name}", compression_type=kind, datamodule=data)
        compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        scores, seconds = [], 0.0
        for batch in batches:
            masks = batch.hand_mask.unsqueeze(1).float().numpy()
            for image, mask in zip(batch.image.numpy(), masks, strict=True):
                start = time.perf_counter()
                outputs = compiled([image[None], mask[None]])
                seconds += time.perf_counter() - start
                scores.append(float(outputs[compiled.output("pred_score")].reshape(-1)[0]))
        scores = np.array(scores)
        reference = scores if reference is None else reference
        rows.append(
            {
                "export": name,
                "image_auroc": round(roc_auc_score(labels, scores), 4),
                "max_score_change": round(float(np.abs(scores - reference).max()), 4),
                "label_changes": int(((scores > 0.5) != (reference > 0.5)).sum()),
                "ms_per_film": round(1000 * seconds / len(scores), 2),
                "size_mb": round(xml.with_suffix(".bin").stat().st_size / 2**20, 2),
            }
        )
        print(rows[-1])
    return pd.DataFrame(rows)


def main() -> None:
    """Run both parts and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=Path, required=True, help="Folder of films to score.")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--compression-size", type=int, default=128)
    parser.add_argument("--compression-epochs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("results/predict_throughput"))
    args = parser.parse_args()
    speed = throughput(args.films, args.count, args.sizes, args.work)
    print(speed.to_markdown(index=False))
    accuracy = compression(args.compression_size, args.compression_epochs, args.work)
    print(accuracy.to_markdown(index=False))


if __name__ == "__main__":
    main()

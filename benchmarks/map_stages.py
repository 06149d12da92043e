"""Benchmark: which of Reverse Distillation's stages make its heatmap, chosen on validation films without retraining.

anomalib's Reverse Distillation adds (or multiplies) one map per encoder stage, each the cosine distance of the
student's features to the encoder's, upsampled to the input and smoothed by a Gaussian (sigma 4 px). With the
packaged EfficientNet-Lite0 (``blocks.1``, ``blocks.2``, ``blocks.4``: strides 4, 8 and 16) the coarse stage may
place the peak at a joint or a cut end rather than on a thin fracture line. This loads the checkpoints of a finished
grid's runs of one Reverse Distillation entry, builds the map from every ``--stages`` subset (indices into the
run's ``layers``, e.g. ``0`` or ``0,1``), every ``--modes`` and every ``--sigmas``, and scores the **validation**
films with the benchmark's own evaluation (image AUROC, pixel AUROC inside the body, AUPRO, peak on the anomaly).
Prints one Markdown row per run and setting, then the mean over the seeds:

    python benchmarks/map_stages.py --config configs/benchmark/fracatlas_reverse_distillation_epochs.yaml \
        --variant full+whole+fill --seeds 0 1 2 --model reverse_distillation_lite0_body_20_epochs \
        --stages 0,1,2 0 1 0,1 1,2 --modes add --sigmas 2 4 8

``--split test`` scores the test films instead: only to report a setting already chosen on the validation films.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pandas as pd
import torch
from anomalib.models.image.reverse_distillation.anomaly_map import AnomalyMapGenerationMode, AnomalyMapGenerator
from grid_runs import trained_runs

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.evaluation import score_films
from xray_anomalib.models.baselines import ReverseDistillation

COLUMNS = ["image_auroc", "pixel_auroc_in_body", "aupro", "peak_hit"]


class StageMapGenerator(AnomalyMapGenerator):
    """anomalib's map generator over a subset of the stages it is given (their indices, finest first)."""

    def __init__(self, image_size: tuple, sigma: int, mode: AnomalyMapGenerationMode, stages: tuple[int, ...]) -> None:
        super().__init__(image_size=image_size, sigma=sigma, mode=mode)
        self.stages = stages

    def forward(self, student_features: list[torch.Tensor], teacher_features: list[torch.Tensor]) -> torch.Tensor:
        """The map of the chosen stages only."""
        return super().forward(
            [student_features[index] for index in self.stages], [teacher_features[index] for index in self.stages]
        )


def stage_subset(text: str) -> tuple[int, ...]:
    """A ``--stages`` value: comma-separated stage indices, e.g. ``0,1``."""
    parts = text.split(",")
    if not all(part.isdigit() for part in parts):
        msg = f"takes comma-separated stage indices such as 0,1; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return tuple(int(part) for part in parts)


def main() -> None:
    """Score the validation films of each seed's run with each map setting and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--model", required=True, help="label of a Reverse Distillation entry of the grid")
    parser.add_argument("--stages", type=stage_subset, nargs="+", required=True)
    parser.add_argument(
        "--modes", nargs="+", default=["add"], choices=[mode.value for mode in AnomalyMapGenerationMode]
    )
    parser.add_argument("--sigmas", type=int, nargs="+", default=[4])
    parser.add_argument("--split", choices=["val", "test"], default="val", help="test: a setting chosen on val only")
    args = parser.parse_args()
    config = BenchmarkConfig.from_yaml(args.config)
    rows = []
    for run, model, datamodule in trained_runs(parser, config, args.variant, args.seeds, [args.model]):
        if not isinstance(model, ReverseDistillation):
            parser.error(f"{args.model} is a {type(model).__name__}, not Reverse Distillation")
        stages_trained = len(model.model.encoder.layers)
        if any(index >= stages_trained for stages in args.stages for index in stages):
            parser.error(f"{args.model} has {stages_trained} stages (indices 0 to {stages_trained - 1})")
        datamodule.setup()
        image_size = model.model.anomaly_map_generator.image_size
        for stages, mode, sigma in itertools.product(args.stages, args.modes, args.sigmas):
            model.model.anomaly_map_generator = StageMapGenerator(
                image_size, sigma, AnomalyMapGenerationMode(mode), stages
            )
            with torch.no_grad():
                metrics = score_films(model, datamodule, split=args.split).metrics.iloc[0]
            setting = {"stages": ",".join(map(str, stages)), "mode": mode, "sigma": sigma}
            rows.append({"seed": run.seed, **setting, **{column: metrics[column] for column in COLUMNS}})
    figures = pd.DataFrame(rows)
    print(figures.to_markdown(index=False, floatfmt=".3f"))
    means = figures.drop(columns="seed").groupby(["stages", "mode", "sigma"], sort=False).mean()
    print(f"\nMean over seeds {args.seeds}, {args.split} films:\n{means.to_markdown(floatfmt='.3f')}")


if __name__ == "__main__":
    main()

"""Benchmark: PatchCore's scoring settings chosen on validation films, without retraining.

The local scale (``local_scale_neighbors``) is computed from the memory bank alone and the score in the body
(``score_in_body``, ``mask_margin``) from the map, so every choice of them can be read from one trained PatchCore:
this loads the checkpoints of a finished grid's PatchCore runs (``xray-anomalib benchmark``), sets each run's local
scale for every ``--neighbours`` value (0: none) and its score for every ``--body-margins`` value (``off``:
anomalib's score over the whole square; a margin: the map's peak over the body less that many pixels) and scores
the **validation** films with the benchmark's own evaluation (image AUROC, pixel AUROC inside the body, AUPRO, peak
on the anomaly). Test films are not read. Prints one Markdown row per run and setting, then the mean over the seeds:

    python benchmarks/local_scale_sweep.py --config configs/benchmark/fracatlas_coreset.yaml \
        --variant full+whole+fill --seeds 0 1 2 --model patchcore_bank1pc --neighbours 0 1 3 5 10 20
    python benchmarks/local_scale_sweep.py --config configs/benchmark/fracatlas_local_scale.yaml \
        --variant full+whole+fill --seeds 0 1 2 --model patchcore_bank1pc_scaled --neighbours 10 \
        --body-margins off 0 4 8 12 16
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pandas as pd
import torch
from grid_runs import runs_or_exit

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.evaluation import score_films
from xray_anomalib.benchmark.runner import checkpoint_of, datamodule_for
from xray_anomalib.data import XrayDataModule
from xray_anomalib.models.baselines import Patchcore
from xray_anomalib.models.components.local_scale import kth_neighbour_distance

COLUMNS = ["image_auroc", "pixel_auroc_in_body", "aupro", "peak_hit"]
OFF = "off"


def validation_figures(
    model: Patchcore, datamodule: XrayDataModule, neighbours: list[int], body_margins: list[str]
) -> pd.DataFrame:
    """The validation figures of ``model`` with each local scale (``0``: none) and body margin, one row per pair."""
    rows = []
    for count, margin in itertools.product(neighbours, body_margins):
        bank = model.model.memory_bank
        model.model.local_scale = kth_neighbour_distance(bank, count) if count else torch.empty(0)
        model.restrict_to_body(margin != OFF, 0 if margin == OFF else int(margin))
        metrics = score_films(model, datamodule, split="val").metrics.iloc[0]
        rows.append({"neighbours": count, "body_margin": margin, **{column: metrics[column] for column in COLUMNS}})
    return pd.DataFrame(rows)


def main() -> None:
    """Score the validation films of each seed's run with each setting and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--model", required=True, help="label of a PatchCore entry of the grid")
    parser.add_argument("--neighbours", type=int, nargs="+", default=[0, 1, 3, 5, 10, 20])
    parser.add_argument(
        "--body-margins", nargs="+", default=[OFF], help=f"{OFF!r} (anomalib's score) or margins in pixels"
    )
    args = parser.parse_args()
    if bad := [margin for margin in args.body_margins if margin != OFF and not margin.isdigit()]:
        parser.error(f"--body-margins takes {OFF!r} or margins of 0 or more pixels; got {bad}.")
    config = BenchmarkConfig.from_yaml(args.config)
    tables = []
    for seed in args.seeds:
        (run,) = runs_or_exit(parser, config, args.variant, seed, [args.model])
        model = Patchcore.load_from_checkpoint(checkpoint_of(run, config)).eval()
        datamodule = datamodule_for(config, run.variant, seed, config.image_size_of(run.model))
        datamodule.setup()
        with torch.no_grad():
            tables.append(validation_figures(model, datamodule, args.neighbours, args.body_margins).assign(seed=seed))
    figures = pd.concat(tables).astype({"neighbours": str, "seed": str})
    print(figures.to_markdown(index=False, floatfmt=".3f"))
    print(figures.groupby(["neighbours", "body_margin"], sort=False)[COLUMNS].mean().to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()

"""Benchmark: a trained model's scoring settings chosen on validation films, without retraining.

PatchCore's local scale (``local_scale_neighbors``) is computed from its memory bank alone, and any feature
baseline's score in the body (``score_in_body``, ``mask_margin``: PatchCore, PaDiM, DFM, STFPM, FastFlow) from its
map, so every choice of them can be read from one trained model: this loads the checkpoints of a finished grid's runs of
one model (``xray-anomalib benchmark``), sets a PatchCore run's local scale for every ``--neighbours`` value (0:
none; without the option each run keeps its own), its map's smoothing for every ``--map-sigmas`` value (pixels;
anomalib's is 4) and the score for every ``--body-margins`` value (``off``:
anomalib's score over the whole square; a margin: the map's peak over the body less that many pixels), and scores
the **validation** films with the benchmark's own evaluation (image AUROC, pixel AUROC inside the body, AUPRO, peak
on the anomaly). Test films are not read. Prints one Markdown row per run and setting, then the mean over the seeds:

    python benchmarks/scoring_sweep.py --config configs/benchmark/fracatlas_coreset.yaml \
        --variant full+whole+fill --seeds 0 1 2 --model patchcore_bank1pc --neighbours 0 1 3 5 10 20
    python benchmarks/scoring_sweep.py --config configs/benchmark/fracatlas_local_scale.yaml \
        --variant full+whole+fill --seeds 0 1 2 --model patchcore_bank1pc_scaled --body-margins off 0 4 8 12 16
    python benchmarks/scoring_sweep.py --config configs/benchmark/fracatlas_reverse_distillation_epochs.yaml \
        --variant full+whole+fill --seeds 0 1 2 --model patchcore_bank1pc_scaled_body --body-margins 4 \
        --map-sigmas 1 2 4
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pandas as pd
import torch
from anomalib.models import AnomalibModule
from grid_runs import trained_runs

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.evaluation import score_films
from xray_anomalib.data import XrayDataModule
from xray_anomalib.models.baselines import Patchcore
from xray_anomalib.models.components.body_score import BodyScoreMixin
from xray_anomalib.models.components.local_scale import kth_neighbour_distance

COLUMNS = ["image_auroc", "pixel_auroc_in_body", "aupro", "peak_hit"]
OFF = "off"
TRAINED = "trained"  # the neighbours column of a run whose local scale is left as it was trained


def body_margin(text: str) -> int | None:
    """A ``--body-margins`` value: ``off`` (``None``: anomalib's score over the whole square) or pixels, 0 or more."""
    if text == OFF:
        return None
    if not text.isdigit():
        msg = f"takes {OFF!r} or a margin of 0 or more pixels; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def validation_figures(
    model: AnomalibModule,
    datamodule: XrayDataModule,
    neighbours: list[int] | None,
    body_margins: list[int | None],
    map_sigmas: list[int] | None,
) -> pd.DataFrame:
    """The validation figures of ``model``, a row for each local scale, map smoothing and body margin.

    A ``None`` local scale or smoothing leaves the model's as trained.
    """
    rows = []
    for count, sigma, margin in itertools.product(neighbours or [None], map_sigmas or [None], body_margins):
        if count is not None:
            bank = model.model.memory_bank
            model.model.local_scale = kth_neighbour_distance(bank, count) if count else torch.empty(0)
        if sigma is not None:
            model.smooth_maps(sigma)
        model.restrict_to_body(margin is not None, margin or 0)
        metrics = score_films(model, datamodule, split="val").metrics.iloc[0]
        rows.append(
            {
                "neighbours": TRAINED if count is None else str(count),
                "map_sigma": TRAINED if sigma is None else str(sigma),
                "body_margin": OFF if margin is None else str(margin),
                **{column: metrics[column] for column in COLUMNS},
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    """Score the validation films of each seed's run with each setting and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--model", required=True, help="label of a PatchCore, PaDiM, DFM, STFPM or FastFlow entry of the grid"
    )
    parser.add_argument("--neighbours", type=int, nargs="+", help="PatchCore's local scale (0: none)")
    parser.add_argument("--map-sigmas", type=int, nargs="+", help="PatchCore's map smoothing, pixels")
    parser.add_argument(
        "--body-margins",
        type=body_margin,
        nargs="+",
        default=[None],
        help=f"{OFF!r} (anomalib's score) or margins in pixels",
    )
    args = parser.parse_args()
    config = BenchmarkConfig.from_yaml(args.config)
    tables = []
    for run, model, datamodule in trained_runs(parser, config, args.variant, args.seeds, [args.model]):
        patchcore_only = args.neighbours or args.map_sigmas
        if not isinstance(model, BodyScoreMixin) or (patchcore_only and not isinstance(model, Patchcore)):
            parser.error(f"{args.model} is a {type(model).__name__}; the sweep's settings are not among its own.")
        datamodule.setup()
        with torch.no_grad():
            figures = validation_figures(model, datamodule, args.neighbours, args.body_margins, args.map_sigmas)
        tables.append(figures.assign(seed=str(run.seed)))
    figures = pd.concat(tables)
    print(figures.to_markdown(index=False, floatfmt=".3f"))
    settings = ["neighbours", "map_sigma", "body_margin"]
    print(figures.groupby(settings, sort=False)[COLUMNS].mean().to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()

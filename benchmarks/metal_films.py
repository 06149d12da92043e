"""Benchmark: a FracAtlas grid's test figures without the films on which the metal review found metal.

FracAtlas' ``hardware`` flag misses some metal: :func:`~xray_anomalib.data.fracatlas.read_metal_review` lists the
films a review by eye found it on (``in_body``: implants; ``on_body``: clothing fasteners, beads, jewellery, clips).
A detector that ranks such films high is rewarded for finding metal, not fractures. This loads the checkpoints of a
finished grid's runs, scores the test films each run was tested on again (same split, same weights), and reports
image AUROC, in-body pixel AUROC, AUPRO and the heatmap peak on the fracture on all of them, without the films with
implants the flag misses, and without any film the review lists. With ``--reference``, each run's image AUROC less
the reference model's on the same films, with a paired bootstrap 95% interval:

    python benchmarks/metal_films.py --config configs/benchmark/fracatlas_reverse_distillation_epochs.yaml \
        --variant full+whole+fill --seeds 0 1 2 --reference patchcore_bank1pc_scaled_body \
        --models reverse_distillation_lite0_body_20_epochs patchcore_bank1pc_scaled_body ensemble_rd20_patchcore \
        --out docs/results/fracatlas_metal_films/figures.csv

Nothing here chooses a setting: the review lists films by what is on them, whatever a detector scores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from grid_runs import trained_runs

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.evaluation import score_films, score_names
from xray_anomalib.data import MuraDataset, ReviewedMetal, read_metal_review
from xray_anomalib.metrics.intervals import paired_difference

SUBSETS = {
    "all test films": ReviewedMetal.INCLUDE,
    "without implants the flag misses": ReviewedMetal.EXCLUDE_IN_BODY,
    "without any reviewed metal": ReviewedMetal.EXCLUDE,
}
METRICS = ["image_auroc", "pixel_auroc_in_body", "aupro", "peak_hit"]


def without_films(dataset: MuraDataset, names: set[str]) -> MuraDataset:
    """A copy of ``dataset`` without the films whose file name is in ``names``."""
    paths = dataset.samples.get("film_path", dataset.samples["image_path"])
    return dataset.subsample([index for index, path in enumerate(paths) if Path(path).name not in names])


def run_figures(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row of figures per run and subset; each run's image scores per film and subset."""
    config = BenchmarkConfig.from_yaml(args.config)
    review = read_metal_review()
    rows, scores = [], []
    for run, model, datamodule in trained_runs(parser, config, args.variant, args.seeds, args.models):
        score = args.score or score_names(model)[-1]
        if score not in score_names(model):
            parser.error(f"{run.run_id} has no score {score!r}; it has {list(score_names(model))}")
        datamodule.setup()
        tested = datamodule.test_data
        for subset, metal in SUBSETS.items():
            datamodule.test_data = without_films(
                tested, set(review.loc[review["metal"].isin(metal.dropped_kinds), "image_id"])
            )
            with torch.no_grad():
                scored = score_films(model, datamodule)
            figures = scored.metrics.set_index("score").loc[score, METRICS]
            labels = scored.films["label"]
            key = {"model": run.model.display, "seed": run.seed, "subset": subset}
            rows.append({**key, "normal": int((labels == 0).sum()), "fractured": int(labels.sum()), **figures})
            scores.append(scored.films[["study_id", "label", score]].rename(columns={score: "score"}).assign(**key))
    return pd.DataFrame(rows), pd.concat(scores, ignore_index=True)


def paired_table(scores: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each run's image AUROC less ``reference``'s on the same films and subset, with its bootstrap interval."""
    rows = []
    for (seed, subset), films in scores.groupby(["seed", "subset"], sort=False):
        wide = films.pivot(index=["study_id", "label"], columns="model", values="score").reset_index()
        for model in (name for name in wide.columns[2:] if name != reference):
            difference = paired_difference(wide["label"].to_numpy(), wide[model], wide[reference])
            rows.append(
                {"model": model, "seed": seed, "subset": subset, "difference": difference.value}
                | {"low": difference.low, "high": difference.high}
            )
    return pd.DataFrame(rows)


def main() -> None:
    """Score each run's test films with and without the reviewed metal films and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", required=True, help="labels of the grid's models")
    parser.add_argument("--score", help="the score read (default: a model's combined score, else its only one)")
    parser.add_argument("--reference", help="a label among --models to compare the others with, film by film")
    parser.add_argument("--out", type=Path, help="CSV of every run's figures")
    args = parser.parse_args()
    if args.reference and args.reference not in args.models:
        parser.error(f"--reference {args.reference!r} is not among --models {args.models}")
    figures, scores = run_figures(args, parser)
    print(figures.to_markdown(index=False, floatfmt=".3f"))
    means = figures.drop(columns="seed").groupby(["model", "subset"], sort=False).mean()
    print(f"\nMean over seeds {args.seeds}:\n{means.to_markdown(floatfmt='.3f')}")
    if args.reference:
        paired = paired_table(scores, args.reference)
        print(f"\nImage AUROC less {args.reference}'s, same films:\n{paired.to_markdown(index=False, floatfmt='.3f')}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figures.to_csv(args.out, index=False)
        print(f"figures: {args.out}")


if __name__ == "__main__":
    main()

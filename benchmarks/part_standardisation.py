"""Benchmark: does standardising a trained model's image score per kind of film help it rank films?

A detector may score whole kinds of film higher than others (pelvis and shoulder films above limbs) whatever they
show, which costs its pooled AUROC even where it ranks well within each kind. This loads the checkpoints of a
finished grid's runs (``xray-anomalib benchmark``), scores the **validation** films, splits them by whether their
body part fills the film (the preprocessing variant's ``fills_film``: hips and shoulders on FracAtlas) and compares
the pooled image AUROC with the AUROC of scores standardised per kind: each film's score less the mean of the normal
films of its kind, divided by their standard deviation. The means come from the *other* fold of a random two-fold
split of the films (repeated ``--repeats`` times), so that no film is standardised by statistics it helped make.
Test films are not read. Prints one Markdown row per run, then the mean over the seeds:

    python benchmarks/part_standardisation.py --config configs/benchmark/fracatlas_reverse_distillation_epochs.yaml \
        --variant full+whole+fill --seeds 0 1 2 \
        --models reverse_distillation_lite0_body_20_epochs patchcore_bank1pc_scaled_body
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from grid_runs import trained_runs
from sklearn.metrics import roc_auc_score

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.evaluation import DEFAULT_SCORE, score_films, score_names

KINDS = {True: "fills the film", False: "limb"}


def standardised_by_kind(
    scores: np.ndarray, labels: np.ndarray, kinds: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """Each score less the mean of the ``reference`` normal films of its kind, over their standard deviation."""
    standardised = np.empty_like(scores)
    for kind in np.unique(kinds):
        normals = scores[reference & (kinds == kind) & (labels == 0)]
        if len(normals) < 2:
            msg = f"fewer than two normal validation films of kind {kind!r} in a fold: use fewer folds"
            raise ValueError(msg)
        chosen = kinds == kind
        standardised[chosen] = (scores[chosen] - normals.mean()) / normals.std()
    return standardised


def cross_fitted_auroc(scores: np.ndarray, labels: np.ndarray, kinds: np.ndarray, repeats: int, seed: int) -> float:
    """Mean AUROC of the per-kind standardised scores, each fold standardised on the other fold's normal films."""
    generator = np.random.default_rng(seed)
    aurocs = []
    for _ in range(repeats):
        fold = generator.integers(0, 2, len(scores)).astype(bool)
        standardised = np.where(
            fold,
            standardised_by_kind(scores, labels, kinds, reference=~fold),
            standardised_by_kind(scores, labels, kinds, reference=fold),
        )
        aurocs.append(roc_auc_score(labels, standardised))
    return float(np.mean(aurocs))


def main() -> None:
    """Score each run's validation films and print pooled, per-kind standardised and within-kind AUROCs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", required=True, help="labels of the grid's models")
    parser.add_argument("--score", default=DEFAULT_SCORE, help="the score read (a baseline's is 'default')")
    parser.add_argument("--repeats", type=int, default=20, help="random two-fold splits averaged")
    args = parser.parse_args()
    config = BenchmarkConfig.from_yaml(args.config)
    rows = []
    for run, model, datamodule in trained_runs(parser, config, args.variant, args.seeds, args.models):
        if args.score not in score_names(model):
            parser.error(f"{run.run_id} has no score {args.score!r}; it has {list(score_names(model))}")
        if datamodule.preprocessing is None:
            parser.error(f"{run.run_id}: without preprocessing no body part is known to fill the film")
        datamodule.setup()
        with torch.no_grad():
            films = score_films(model, datamodule, split="val").films
        fills = datamodule.val_data.samples["body_part"].map(datamodule.preprocessing.body_fills_film)
        kinds = fills.map(KINDS).to_numpy()
        scores, labels = films[args.score].to_numpy(float), films["label"].to_numpy()
        within = {
            f"within: {kind}": roc_auc_score(labels[kinds == kind], scores[kinds == kind]) for kind in KINDS.values()
        }
        rows.append(
            {
                "model": run.model.display,
                "seed": run.seed,
                "pooled": roc_auc_score(labels, scores),
                "standardised per kind": cross_fitted_auroc(scores, labels, kinds, args.repeats, run.seed),
                **within,
            }
        )
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print(table.drop(columns="seed").groupby("model", sort=False).mean().to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()

"""Benchmark: choose ``top_k`` and ``mask_margin`` of the reconstruction scores on validation films.

Reads the finished runs of a benchmark grid (their checkpoints stay as trained), scores their validation and test
films again with every pair of hand-mask margin (pixels along the outline left out) and ``k`` of the ``topk``
score, and prints image AUROC per run and its mean over the runs. The paper's split puts anomalous studies in the
validation set, so the pair is chosen there (best mean validation AUROC) and the test columns only report it:

    python benchmarks/score_margin.py --config configs/benchmark/realistic.yaml --models cae vae
    python benchmarks/score_margin.py ... --margins 0 2 3 4 6 8 --top-k 10 25 50 200 --out results/margin.csv

``--figure RUN --figure-margin M`` also draws test films of one run: the film (anomaly outlined), its error map over
the whole hand and with the margin left out, each map's peak marked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.runner import (
    Run,
    checkpoint_of,
    datamodule_of,
    grid,
    recorded_result,
)
from xray_anomalib.models.components.error_maps import Score, image_score, inner_mask
from xray_anomalib.registry import get_model_spec


def squared_errors(run: Run, config: BenchmarkConfig) -> dict[str, tuple[torch.Tensor, ...]]:
    """``split -> (squared errors over the whole hand, hand masks, labels, films, anomaly masks)`` of a run."""
    checkpoint = checkpoint_of(run, config)
    module = get_model_spec(run.model.name).load().load_from_checkpoint(checkpoint, map_location="cpu").eval()
    module.model.mask_margin = 0
    datamodule = datamodule_of(run, config)
    datamodule.prepare_data()
    datamodule.setup()
    splits = {}
    for split, loader in (("val", datamodule.val_dataloader()), ("test", datamodule.test_dataloader())):
        errors, hands, labels, films, truths = [], [], [], [], []
        with torch.no_grad():
            for batch in loader:
                hand = batch.hand_mask.unsqueeze(1).to(batch.image.dtype)
                errors.append(module.model.score_maps(batch.image, hand)[Score.TOPK.value][1])
                hands.append(hand)
                labels.append(batch.gt_label.int())
                films.append(batch.image[:, :1])
                truths.append(batch.gt_mask.reshape(hand.shape))
        splits[split] = tuple(torch.cat(values) for values in (errors, hands, labels, films, truths))
    return splits


def margin_figure(run: Run, config: BenchmarkConfig, margin: int, path: Path, films: int = 4) -> None:
    """Draw ``films`` anomalous and two normal test films of ``run``: film, error map, error map less the margin."""
    errors, hands, labels, images, truths = squared_errors(run, config)["test"]
    chosen = [
        *torch.nonzero(labels == 1).flatten()[:films].tolist(),
        *torch.nonzero(labels == 0).flatten()[:2].tolist(),
    ]
    kept = errors * inner_mask(hands, margin)
    panels = [("film", images), ("error over the whole hand", errors), (f"error, {margin} px margin left out", kept)]
    figure = Figure(figsize=(7.5, 2.6 * len(chosen)), layout="constrained")
    axes = figure.subplots(len(chosen), len(panels), squeeze=False)
    for row, index in enumerate(chosen):
        for column, (title, values) in enumerate(panels):
            axis, image = axes[row, column], values[index, 0].numpy()
            axis.imshow(image, cmap="gray" if column == 0 else "inferno")
            if truths[index].any():
                axis.contour(truths[index, 0].numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
            if column:
                peak_y, peak_x = np.unravel_index(image.argmax(), image.shape)
                axis.plot(peak_x, peak_y, "+", color="lime", markersize=12)
            axis.set_title(f"{title} ({'anomalous' if labels[index] else 'normal'})", fontsize=7)
            axis.set_axis_off()
    figure.savefig(path, dpi=80)


def margin_table(
    config: BenchmarkConfig, models: list[str], margins: list[int], top_ks: list[int]
) -> tuple[pd.DataFrame, list[str]]:
    """Image AUROC of every run x split x margin x k, one column per run; the runs' ids."""
    rows, run_ids = [], []
    for run in grid(config):
        if run.model.display not in models or recorded_result(run, config) is None:
            continue
        run_ids.append(run.run_id)
        for split, (errors, hands, labels, *_) in squared_errors(run, config).items():
            for margin in margins:
                inner = inner_mask(hands, margin)
                for k in top_ks:
                    scores = image_score(errors * inner, inner, Score.TOPK, k)
                    auroc = roc_auc_score(labels.numpy(), scores.numpy())
                    rows.append({"run": run.run_id, "split": split, "margin": margin, "top_k": k, "auroc": auroc})
    if not rows:
        msg = f"No finished run of {models} in {config.output} (run the benchmark first)."
        raise SystemExit(msg)
    table = pd.DataFrame(rows).pivot_table(index=["margin", "top_k"], columns=["split", "run"], values="auroc")
    return table, run_ids


def main() -> None:
    """Score the runs again with every margin and k, print the table and the pair chosen on validation."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--models", nargs="+", required=True, help="model labels of the grid (reconstruction models)")
    parser.add_argument("--margins", nargs="+", type=int, default=[0, 2, 4, 6, 8])
    parser.add_argument("--top-k", nargs="+", type=int, default=[10, 25, 50, 200])
    parser.add_argument("--out", type=Path, help="CSV of every run's AUROC")
    parser.add_argument("--figure", help="a run id (e.g. cae__full__seed1) whose test films to draw")
    parser.add_argument("--figure-margin", type=int, default=4)
    parser.add_argument("--figure-out", type=Path, default=Path("docs/images/score_margin.png"))
    args = parser.parse_args()
    config = BenchmarkConfig.from_yaml(args.config)
    if args.figure:
        run = next((run for run in grid(config) if run.run_id == args.figure), None)
        if run is None:
            raise SystemExit(f"No run {args.figure!r} in {args.config}.")
        margin_figure(run, config, args.figure_margin, args.figure_out)
        print(f"figure: {args.figure_out}")
    table, run_ids = margin_table(config, args.models, args.margins, args.top_k)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out)
    summary = pd.DataFrame({"val mean": table["val"].mean(axis=1), "test mean": table["test"].mean(axis=1)})
    print(f"Image AUROC, mean over {len(run_ids)} runs: {', '.join(run_ids)}")
    print(summary.round(3).to_markdown())
    margin, k = summary["val mean"].idxmax()
    print(f"\nChosen on validation: mask_margin {margin}, top_k {k}")
    print(table.loc[(margin, k)].unstack("split").round(3).to_markdown())


if __name__ == "__main__":
    main()

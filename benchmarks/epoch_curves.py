"""Benchmark: how a grid's validation figures moved epoch by epoch, and which epoch each rule would have kept.

Runs recorded since session 33 hold every epoch's validation figures (``validation_by_epoch`` in their
``result.json``). This draws image AUROC, in-body pixel AUROC and the heatmap peak on the anomaly by epoch, one line
per run, the kept epoch marked, and tabulates the epoch each figure would keep (the first of its best) with that
epoch's three figures. Validation films only: it reads no test figure.

    python benchmarks/epoch_curves.py --config configs/benchmark/fracatlas_reverse_distillation_kept_by_peak.yaml \
        --variant full+whole+fill --seeds 0 1 --models reverse_distillation_lite0_body_20_epochs_kept_by_peak \
        --out docs/results/fracatlas_reverse_distillation_kept_by_peak/epochs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from grid_runs import runs_or_exit
from matplotlib.ticker import MaxNLocator

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.runner import recorded_result
from xray_anomalib.callbacks import KeptBy

FIGURES = {
    KeptBy.IMAGE_AUROC: "image_AUROC",
    KeptBy.PIXEL_AUROC_IN_BODY: "pixel_AUROC_in_body",
    KeptBy.PEAK_HIT: "pixel_peak_hit",
}
"""Each rule and the name of its figure in ``validation_by_epoch``."""


def epoch_figures(args: argparse.Namespace, parser: argparse.ArgumentParser) -> pd.DataFrame:
    """One row per run and epoch: the run's labels, its kept epoch and the epoch's validation figures."""
    config = BenchmarkConfig.from_yaml(args.config)
    rows = []
    for seed in args.seeds:
        for run in runs_or_exit(parser, config, args.variant, seed, args.models):
            result = recorded_result(run, config)
            if result is None or not result.get("validation_by_epoch"):
                parser.error(f"{run.run_id} has no finished result with validation_by_epoch (run it since session 33)")
            for epoch in result["validation_by_epoch"]:
                figures = {name: epoch.get(name) for name in FIGURES.values()}
                rows.append(
                    {
                        "model": run.model.display,
                        "seed": seed,
                        "kept_epoch": result["kept_epoch"],
                        "epoch": epoch["epoch"],
                        **figures,
                    }
                )
    return pd.DataFrame(rows)


def kept_by_each_rule(figures: pd.DataFrame) -> pd.DataFrame:
    """Per run and rule: the epoch the rule keeps (the first of the best) and that epoch's figures."""
    rows = []
    for (model, seed), epochs in figures.groupby(["model", "seed"], sort=False):
        for rule, name in FIGURES.items():
            defined = epochs.dropna(subset=[name])
            if defined.empty:
                continue
            best = defined.loc[defined[name].idxmax()]
            rows.append(
                {
                    "model": model,
                    "seed": seed,
                    "kept_by": rule.value,
                    "epoch": int(best["epoch"]),
                    **{figure: best[figure] for figure in FIGURES.values()},
                }
            )
    return pd.DataFrame(rows)


def draw(figures: pd.DataFrame, path: Path) -> None:
    """Three panels, one per figure, a line per run, its kept epoch marked with a dot."""
    fig, axes = plt.subplots(1, len(FIGURES), figsize=(5 * len(FIGURES), 3.8))
    for axis, (rule, name) in zip(axes, FIGURES.items(), strict=True):
        for (model, seed), epochs in figures.groupby(["model", "seed"], sort=False):
            (line,) = axis.plot(epochs["epoch"], epochs[name], label=f"{model}, seed {seed}")
            kept = epochs[epochs["epoch"] == epochs["kept_epoch"]]
            axis.plot(kept["epoch"], kept[name], "o", color=line.get_color())
        axis.set_title(f"validation {rule.description}")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Write ``<out>.csv`` (every epoch), ``<out>.md`` (the epoch each rule keeps) and ``<out>.png``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--out", required=True, type=Path, help="path without suffix of the CSV, table and plot")
    args = parser.parse_args()
    figures = epoch_figures(args, parser)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figures.to_csv(args.out.with_suffix(".csv"), index=False)
    table = kept_by_each_rule(figures)
    args.out.with_suffix(".md").write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n")
    draw(figures, args.out.with_suffix(".png"))
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()

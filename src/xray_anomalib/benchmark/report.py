"""Benchmark report: the paper's Table 1 as Markdown, details per model and score, ROC curves and a bar chart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.runner import FILMS_NAME, grid
from xray_anomalib.metrics.intervals import (
    LEVEL,
    REPLICATES,
    auroc_interval,
    operating_point_interval,
    paired_difference,
)
from xray_anomalib.metrics.operating_points import SENSITIVITY_TARGETS, SPECIFICITY_TARGETS, percent
from xray_anomalib.registry import BASELINES

TICK_LABEL_WIDTH = 18
"""Characters a line of a bar chart's model label holds (the labels of neighbouring bars must not run together)."""

DETAILS = [
    "val_image_auroc",
    "val_pixel_auroc_in_body",
    "val_peak_hit",
    "kept_epoch",
    "pixel_auroc_in_body",
    "pixel_auroc",
    "aupro",
    "study_auroc_max",
    "study_auroc_mean",
    "peak_hit",
    "peak_chance",
    "positives_without_mask",
    "train_s",
    "ms_per_image",
]


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std():.3f}"


def table1(results: pd.DataFrame, config: BenchmarkConfig) -> str:
    """Image AUROC, mean ± std over seeds, per model and score (rows) and preprocessing variant (columns)."""
    done = results[results["status"] == "ok"]
    variants = [variant.label for variant in config.variants]
    lines = ["| model | score | " + " | ".join(variants) + " |", "|---|---|" + "---|" * len(variants)]
    for (model, score), rows in done.groupby(["model", "score"], sort=False):
        cells = [_mean_std(rows.loc[rows["variant"] == variant, "image_auroc"]) for variant in variants]
        lines.append(f"| {model} | {score} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(results: pd.DataFrame) -> str:
    """Every other metric (mean ± std over seeds) per model, score and variant."""
    done = results[results["status"] == "ok"]
    done = done.assign(**{column: done.get(column, float("nan")) for column in DETAILS})  # runs older than a column
    lines = ["| model | score | variant | " + " | ".join(DETAILS) + " |", "|---|---|---|" + "---|" * len(DETAILS)]
    for (model, score, variant), rows in done.groupby(["model", "score", "variant"], sort=False):
        lines.append(f"| {model} | {score} | {variant} | " + " | ".join(_mean_std(rows[c]) for c in DETAILS) + " |")
    return "\n".join(lines)


def wrapped_label(label: str, width: int = TICK_LABEL_WIDTH) -> str:
    """``label`` broken after underscores into lines of at most ``width`` characters, a line's final underscore counted.

    A part longer than ``width`` keeps a line of its own.
    """
    lines = [""]
    for part in label.split("_"):
        joined = f"{lines[-1]}_{part}" if lines[-1] else part
        if len(joined) < width or not lines[-1]:
            lines[-1] = joined
        else:
            lines[-1] += "_"
            lines.append(part)
    return "\n".join(lines)


def bar_chart(results: pd.DataFrame, config: BenchmarkConfig, path: Path) -> None:
    """Mean image AUROC per model and score, one bar per variant, standard deviation over seeds as error bars."""
    done = results[results["status"] == "ok"]
    summary = done.groupby(["model", "score", "variant"], sort=False)["image_auroc"].agg(["mean", "std"]).fillna(0)
    entries = list(dict.fromkeys((model, score) for model, score, _ in summary.index))
    variants = [variant.label for variant in config.variants]
    width = 0.8 / len(variants)
    figure = Figure(figsize=(max(6, 0.9 * len(entries) + 2), 4))
    axis = figure.subplots()
    for offset, variant in enumerate(variants):
        means = [summary["mean"].get((*entry, variant), float("nan")) for entry in entries]
        stds = [summary["std"].get((*entry, variant), 0.0) for entry in entries]
        positions = [i + (offset - (len(variants) - 1) / 2) * width for i in range(len(entries))]
        axis.bar(positions, means, width, yerr=stds, capsize=2, label=variant)
    axis.axhline(0.5, color="gray", linestyle="--", linewidth=1)
    labels = [f"{wrapped_label(model)}\n{score}" for model, score in entries]
    axis.set_xticks(range(len(entries)), labels, fontsize=7)
    axis.set_ylabel("test image AUROC")
    axis.set_ylim(0, 1)
    axis.set_title(f"{config.name}\nimage AUROC, mean ± std over seeds", fontsize=10)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def roc_curves(scored: pd.DataFrame, config: BenchmarkConfig, path: Path) -> None:
    """ROC curves of every model and score, one panel per variant, on the first seed's test films.

    Args:
        scored: The runs' test scores (:func:`scores_of_test_films`).
        config: The benchmark.
        path: PNG to write.
    """
    variants = config.variants
    figure = Figure(figsize=(4.2 * len(variants), 4.2))
    axes = figure.subplots(1, len(variants), squeeze=False)
    for axis, variant in zip(axes[0], variants, strict=True):
        first_seed = scored[(scored["variant"] == variant.label) & (scored["seed"] == config.seeds[0])]
        for row in first_seed.itertuples():
            false_positive, true_positive, _ = roc_curve(row.films["label"], row.films["s"])
            axis.plot(false_positive, true_positive, linewidth=1, label=f"{row.model} {row.score}")
        axis.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1)
        axis.set_title(f"{variant.label}, seed {config.seeds[0]}")
        axis.set_xlabel("false positive rate")
        axis.set_ylabel("true positive rate")
        axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def scores_of_test_films(config: BenchmarkConfig) -> pd.DataFrame:
    """One row per finished run and score: model, its registry name, score, variant, seed and the films' scores.

    Each run's ``films.csv`` is read once here, for the ROC curves and the intervals alike.
    """
    rows = []
    for run in grid(config):
        films_path = config.output / "runs" / run.run_id / FILMS_NAME
        if not films_path.is_file():
            continue
        films = pd.read_csv(films_path).set_index("film_path")
        for score in films.columns[2:]:
            entry = {"model": run.model.display, "name": run.model.name, "score": score, "variant": run.variant.label}
            scores = films[["study_id", "label", score]].rename(columns={score: "s"})
            rows.append(entry | {"seed": run.seed, "films": scores})
    return pd.DataFrame(rows)


def intervals(scored: pd.DataFrame) -> str:
    """Each run's image AUROC with its bootstrap interval, and its paired difference to the best baseline.

    The best baseline is the registered baseline (``padim``, ``patchcore``, ``dfm``) with the highest mean AUROC
    in the variant; a run is compared with it on the same seed's test films.

    Args:
        scored: The runs' test scores (:func:`scores_of_test_films`).
    """
    if scored.empty:
        return "No per-film scores."
    scored = scored.assign(auroc=[roc_auc_score(films["label"], films["s"]) for films in scored["films"]])
    lines = [
        f"| model | score | variant | seed | image AUROC [{LEVEL:.0%} interval] | minus the best baseline "
        "[interval] | share of replicates not above it |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, rows in scored.groupby("variant", sort=False):
        baselines = rows[rows["name"].isin(BASELINES)]
        best = baselines.groupby(["model", "score"])["auroc"].mean().idxmax() if len(baselines) else None
        for row in rows.itertuples():
            interval = auroc_interval(row.films["label"], row.films["s"], seed=row.seed)
            comparison, share = "-", "-"
            if best is not None and (row.model, row.score) != best:
                reference = rows[(rows["model"] == best[0]) & (rows["score"] == best[1]) & (rows["seed"] == row.seed)]
                if len(reference):
                    paired = row.films.join(reference.iloc[0]["films"]["s"].rename("r"), how="inner")
                    difference = paired_difference(paired["label"], paired["s"], paired["r"], seed=row.seed)
                    comparison, share = f"{difference} vs {best[0]} {best[1]}", f"{difference.p_not_above:.3f}"
            lines.append(
                f"| {row.model} | {row.score} | {variant} | {row.seed} | {interval} | {comparison} | {share} |"
            )
    return "\n".join(lines)


def operating_points(scored: pd.DataFrame) -> str:
    """Each run's operating points, per film and per study (scored by its highest film), with bootstrap intervals.

    Sensitivity at 90% and 95% specificity, specificity at 95% sensitivity.

    Args:
        scored: The runs' test scores (:func:`scores_of_test_films`).
    """
    if scored.empty:
        return "No per-film scores."
    points = [("sensitivity", target) for target in SPECIFICITY_TARGETS]
    points += [("specificity", target) for target in SENSITIVITY_TARGETS]
    names = [
        f"sensitivity at {percent(t)}% specificity"
        if rate == "sensitivity"
        else f"specificity at {percent(t)}% sensitivity"
        for rate, t in points
    ]
    lines = [
        f"| model | score | variant | seed | level | {' | '.join(names)} |",
        "|---|---|---|---|---|" + "---|" * len(points),
    ]
    for row in scored.itertuples():
        studies = row.films.groupby("study_id").agg(label=("label", "max"), s=("s", "max"))
        for level, table in (("film", row.films), ("study", studies)):
            if table["label"].nunique() < 2:
                continue
            cells = [
                str(operating_point_interval(table["label"], table["s"], rate, target, seed=row.seed))
                for rate, target in points
            ]
            lines.append(f"| {row.model} | {row.score} | {row.variant} | {row.seed} | {level} | {' | '.join(cells)} |")
    return "\n".join(lines)


def runs_without_result(results: pd.DataFrame, config: BenchmarkConfig) -> list[str]:
    """The ids of the grid's runs that have no row in ``results`` (neither finished nor failed)."""
    recorded = set()
    if len(results):
        recorded = set(zip(results["model"], results["variant"], results["seed"], strict=True))
    return [run.run_id for run in grid(config) if tuple(run.labels.values()) not in recorded]


def write_report(results: pd.DataFrame, config: BenchmarkConfig) -> Path:
    """Write ``report.md``, ``auroc_bars.png`` and ``roc_curves.png`` into the output folder; return the report."""
    output = config.output
    finished = "score" in results and (results["status"] == "ok").any()
    parts = [f"# Benchmark: {config.name}", f"Seeds {config.seeds}; data {config.data}."]
    if finished:
        scored = scores_of_test_films(config)
        bar_chart(results, config, output / "auroc_bars.png")
        roc_curves(scored, config, output / "roc_curves.png")
        parts += [_finished_sections(results, config, scored)]
    else:
        parts.append("No run has finished yet.")
    failed = results[results["status"] != "ok"] if len(results) else results
    if len(failed):
        parts += ["## Failed runs", *(f"- {r.model} {r.variant} seed {r.seed}: {r.error}" for r in failed.itertuples())]
    pending = runs_without_result(results, config)
    if pending:
        parts += [
            "## Runs without a result",
            f"{len(pending)} of {len(grid(config))} runs of the grid have no result with the current settings (not "
            "run yet, stopped, or run with other settings); the figures above leave them out, so a mean over seeds is "
            "over the seeds that finished.",
            "\n".join(f"- {run_id}" for run_id in pending),
        ]
    path = output / "report.md"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def _finished_sections(results: pd.DataFrame, config: BenchmarkConfig, scored: pd.DataFrame) -> str:
    """Table 1, the metrics table and the plots of the finished runs."""
    parts = [
        "Image AUROC on the test films, mean ± std over seeds.",
        table1(results, config),
        "## All metrics",
        "Pixel metrics over the test films with pixel truth (normal films and anomalous films with a mask; "
        "positives_without_mask anomalous films had none and are left out): pixel_auroc_in_body, pixel AUROC inside "
        "the body mask (the headline: a map that is zero outside the body cannot score by the background), "
        "pixel_auroc over every pixel, AUPRO (FPR <= 0.3); peak_hit: share of anomalous films whose heatmap peak "
        "inside the body lies on the anomaly (peak_chance: what a random point of the body would get). Study AUROC "
        "with a study scored by the max or the mean of its films; val_...: image AUROC, in-body pixel AUROC and peak "
        "hit on the validation films (the figures settings may be chosen on, never the test films'); train_s: "
        "training seconds; ms_per_image: torch scoring time per film.",
        details(results),
        "## Intervals and paired comparisons",
        f"Bootstrap over the test films of each seed ({REPLICATES} replicates, percentile intervals). A paired "
        "bootstrap draws the films once per replicate for both models of a comparison; the last column is the share "
        "of replicates in which the model's AUROC is not above the best baseline's (a one-sided bootstrap p-value).",
        intervals(scored),
        "## Operating points",
        "The best point of each run's ROC curve at a fixed specificity or sensitivity on its test films (a film "
        "is flagged when its score reaches the threshold; a study is scored by its highest film), with "
        f"{LEVEL:.0%} bootstrap intervals over the films or studies. These thresholds are read off the test films "
        "themselves: they say what the score can do, not what a threshold fixed beforehand gives (for that, "
        "`OperatingPointPostProcessor` fits it on the validation films).",
        operating_points(scored),
        "![image AUROC](auroc_bars.png)",
        "![ROC curves](roc_curves.png)",
    ]
    return "\n\n".join(parts)

"""What the detectors of a finished grid point at on real fractures, and what their most anomalous films show.

Loads the checkpoints of one variant and seed of a benchmark grid (``xray-anomalib benchmark``) and draws:

- ``<out>_fractures.png``: fractured test films (spread over the test films, or those ``--named``) with the fracture
  outlined, then each model's anomaly map (scaled to its own maximum over the body), its peak inside the body marked
  (cyan: on the fracture, red: off it);
- ``<out>_top.png``: each model's most anomalous test films, with their label.

    python benchmarks/fracture_heatmaps.py --variant full+whole --seed 0 --out docs/images/fracatlas
    python benchmarks/fracture_heatmaps.py ... --named IMG0002562 IMG0002563 IMG0002589
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from grid_runs import runs_or_exit
from matplotlib.figure import Figure

from xray_anomalib.benchmark.config import BenchmarkConfig, VariantConfig
from xray_anomalib.benchmark.evaluation import score_maps_of
from xray_anomalib.benchmark.runner import checkpoint_of, datamodule_for
from xray_anomalib.models.components.scoring import ScoringModel
from xray_anomalib.registry import get_model_spec


def _outlined(film: np.ndarray, truth: np.ndarray) -> np.ndarray:
    picture = np.repeat(film[..., None], 3, axis=2)
    contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(picture, contours, -1, (1.0, 0.2, 0.2), 1)
    return picture


def _test_films(config: BenchmarkConfig, variant: VariantConfig, seed: int, size: int) -> tuple:
    """The test films of the variant and seed at ``size``: images, body masks, fracture masks, labels, file stems."""
    datamodule = datamodule_for(config, variant, seed, size)
    datamodule.setup()
    batches = list(datamodule.test_dataloader())
    image = torch.cat([batch.image for batch in batches])
    hand = torch.cat([batch.hand_mask for batch in batches]).unsqueeze(1).float()
    truth = torch.cat([batch.gt_mask for batch in batches]).bool()
    samples = datamodule.test_data.samples
    names = [Path(path).stem for path in samples.get("film_path", samples["image_path"])]
    return image, hand, truth, torch.cat([batch.gt_label for batch in batches]), names


def _chosen_films(names: list[str], named: list[str], truth: torch.Tensor, count: int) -> list[int]:
    """Indices of the films ``named`` (each must be a test film), else ``count`` fractured films spread evenly."""
    if named:
        missing = sorted(set(named) - set(names))
        if missing:
            msg = f"not test films of this variant and seed: {missing}"
            raise SystemExit(msg)
        return [names.index(name) for name in named]
    fractured = torch.nonzero(truth.flatten(1).any(dim=1)).flatten()
    return fractured[:: max(1, len(fractured) // count)][:count].tolist()


def _scored(
    model: torch.nn.Module, score: str | None, image: torch.Tensor, hand: torch.Tensor
) -> tuple[str, torch.Tensor, torch.Tensor]:
    """The model's score name (``score``, or its first where it names none), its per-film scores and anomaly maps."""
    with torch.no_grad():
        outputs = [score_maps_of(model, image[i : i + 32], hand[i : i + 32]) for i in range(0, len(image), 32)]
    name = score or next(iter(outputs[0]))
    scores = torch.cat([output[name][0] for output in outputs])
    return name, scores, torch.cat([output[name][1].reshape(-1, *image.shape[-2:]) for output in outputs])


def main() -> None:
    """Score the test films with each model of the variant and seed, save both figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("configs/benchmark/fracatlas_cpu.yaml"))
    parser.add_argument("--variant", default="full+whole")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["cae", "vae", "padim", "patchcore"])
    parser.add_argument("--films", type=int, default=6)
    parser.add_argument("--named", nargs="+", default=[], help="file stems of test films to draw (e.g. IMG0002562)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/fracatlas"))
    args = parser.parse_args()
    config = BenchmarkConfig.from_yaml(args.config)
    runs = runs_or_exit(parser, config, args.variant, args.seed, args.models)
    variant = runs[0].variant
    films = {}  # image size -> the test films at that size (a grid may give models their own size)
    scored = {}
    for run in runs:
        size = config.image_size_of(run.model)
        if size not in films:
            films[size] = _test_films(config, variant, args.seed, size)
        model = get_model_spec(run.model.name).load().load_from_checkpoint(checkpoint_of(run, config)).eval()
        own = model.model.score if isinstance(model.model, ScoringModel) else None  # a plugin's (an ensemble's) choice
        score = run.model.scores[0] if run.model.scores else own
        name, scores, maps = _scored(model, score, *films[size][:2])
        scored[f"{run.model.display} {name}"] = (scores, maps)
    image, hand, truth, labels, names = films[config.image_size_of(runs[0].model)]  # drawn at the first model's size
    for title, (scores, maps) in scored.items():
        maps = torch.nn.functional.interpolate(maps[:, None], size=image.shape[-2:], mode="bilinear")[:, 0]
        scored[title] = (scores, maps.masked_fill(hand[:, 0] == 0, float("-inf")))
    chosen = _chosen_films(names, args.named, truth, args.films)
    figure = Figure(figsize=(2.0 * (len(scored) + 1), 2.1 * len(chosen)))
    axes = figure.subplots(len(chosen), len(scored) + 1, squeeze=False)
    for row, index in enumerate(chosen):
        axes[row, 0].imshow(_outlined(image[index, 0].numpy(), truth[index].numpy()))
        axes[0, 0].set_title("film, fracture", fontsize=7)
        for column, (title, (_, maps)) in enumerate(scored.items(), start=1):
            heat = maps[index].numpy()
            inside = np.isfinite(heat)
            low, high = heat[inside].min(), heat[inside].max()
            shown = np.where(inside, (heat - low) / max(high - low, 1e-12), 0.0)
            peak_y, peak_x = np.unravel_index(np.argmax(np.where(inside, heat, -np.inf)), heat.shape)
            hit = bool(truth[index, peak_y, peak_x])
            axes[row, column].imshow(shown, cmap="inferno", vmin=0, vmax=1)
            axes[row, column].plot(peak_x, peak_y, marker="+", color="cyan" if hit else "red", markersize=9)
            axes[0, column].set_title(title.replace(" ", "\n"), fontsize=7)  # label over score: long labels overlap
    for axis in axes.flat:
        axis.set_axis_off()
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(f"{args.out}_fractures.png", dpi=100)
    top = Figure(figsize=(1.6 * args.films, 1.8 * len(scored)))
    axes = top.subplots(len(scored), args.films, squeeze=False)
    for row, (title, (scores, _)) in enumerate(scored.items()):
        for column, index in enumerate(scores.argsort(descending=True)[: args.films].tolist()):
            axes[row, column].imshow(_outlined(image[index, 0].numpy(), truth[index].numpy()))
            label = "fractured" if labels[index] else "normal"
            name = title if column == 0 else ""  # the model's label once a row: long labels overlap
            axes[row, column].set_title(f"{name}\n#{column + 1} {label}", fontsize=6, loc="left")
    for axis in axes.flat:
        axis.set_axis_off()
    top.tight_layout()
    top.savefig(f"{args.out}_top.png", dpi=100)
    print(f"{args.out}_fractures.png", f"{args.out}_top.png")


if __name__ == "__main__":
    main()

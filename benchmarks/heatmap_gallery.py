"""Gallery of heatmaps: the same anomalous test films under every trained model of the zoo benchmark.

Reads the checkpoints ``benchmarks/model_zoo.py`` left under ``--work`` (at one size) and draws, per film, the
preprocessed film with the true anomaly outlined, then each model's raw anomaly map for the chosen score (each
map scaled to its own maximum over the hand), with the map's peak marked:

    python benchmarks/heatmap_gallery.py --size 128 --out docs/images/model_zoo_heatmaps.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from matplotlib.figure import Figure

from xray_anomalib.data import Mura
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.registry import get_model_spec

PANELS = [
    ("cae", "Cae", "topk"),
    ("vae", "Vae", "topk"),
    ("dcgan", "Dcgan", "discriminator"),
    ("bigan", "Bigan", "discriminator"),
    ("alphagan", "AlphaGan", "topk"),
    ("alphagan", "AlphaGan", "discriminator"),
]


def main() -> None:
    """Load the checkpoints, score a few anomalous test films, save the gallery."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--work", type=Path, default=Path("results/model_zoo"))
    parser.add_argument("--films", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("docs/images/model_zoo_heatmaps.png"))
    args = parser.parse_args()
    datamodule = Mura(root=None, image_size=args.size, mask_dir="masks", preprocessing=PreprocessingSettings("full"))
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    chosen = [i for i in range(len(batch.image)) if batch.gt_mask[i].any()][: args.films]
    image, hand = batch.image[chosen], batch.hand_mask[chosen].unsqueeze(1).float()
    maps = []
    for name, folder, score in PANELS:
        checkpoint = next((args.work / "results" / folder).glob("*/*/latest/weights/lightning/model.ckpt"))
        model = get_model_spec(name).load().load_from_checkpoint(checkpoint, map_location="cpu").eval()
        with torch.no_grad():
            maps.append((f"{name} {score}", model.model.score_maps(image, hand)[score][1][:, 0].numpy()))
    figure = Figure(figsize=(2.0 * (len(PANELS) + 1), 2.0 * len(chosen)))
    axes = figure.subplots(len(chosen), len(PANELS) + 1, squeeze=False)
    for row, index in enumerate(chosen):
        film = image[row, 0].numpy()
        truth = batch.gt_mask[index].numpy().astype(np.uint8)
        outlined = np.repeat(film[..., None], 3, axis=2)
        contours, _ = cv2.findContours(truth, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(outlined, contours, -1, (1.0, 0.0, 0.0), 1)
        axes[row, 0].imshow(outlined)
        axes[0, 0].set_title("film, true anomaly", fontsize=7)
        for column, (title, values) in enumerate(maps, start=1):
            heat = values[row]
            axes[row, column].imshow(heat / max(heat.max(), 1e-12), cmap="inferno", vmin=0, vmax=1)
            peak_y, peak_x = np.unravel_index(heat.argmax(), heat.shape)
            axes[row, column].plot(peak_x, peak_y, marker="+", color="cyan", markersize=8)
            axes[0, column].set_title(title, fontsize=7)
    for axis in axes.flat:
        axis.set_axis_off()
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()

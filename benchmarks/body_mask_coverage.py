"""Does the body mask hold the finding? The COCO polygons of FracAtlas check the offline pipeline on real limbs.

A fracture must lie inside the body mask: outside it, the masked scores and heatmaps can never point at it. For
every fractured film this runs the pipeline (through the datamodule's cache) and prints, per variant and setting,
the share of fractured films whose fracture survives the crop (any fracture pixel in some crop), whose fracture
lies at least half inside the body mask (over all of them, and over the hip films), and the share of all fracture
pixels inside it:

    python benchmarks/body_mask_coverage.py --root ../shared/data/fracatlas-lower
"""

from __future__ import annotations

import argparse

import cv2
import pandas as pd

from xray_anomalib.data import FracAtlas
from xray_anomalib.film_pipeline import PreprocessingSettings


def coverage(root: str, settings: PreprocessingSettings, cache_dir: str) -> dict:
    """The coverage figures of one pipeline setting over the fractured films of ``root``."""
    datamodule = FracAtlas(root=root, preprocessing=settings, cache_dir=cache_dir)
    datamodule.setup()
    crops = pd.concat([datamodule.val_data.samples, datamodule.test_data.samples])
    crops = crops[(crops["study_label"] == 1) & (crops["mask_path"] != "")]
    films = []
    for film, rows in crops.groupby("film_path"):
        fracture = inside = 0
        for row in rows.itertuples():
            truth = cv2.imread(row.mask_path, cv2.IMREAD_GRAYSCALE) > 0
            body = cv2.imread(row.hand_mask_path, cv2.IMREAD_GRAYSCALE) > 0
            fracture += int(truth.sum())
            inside += int((truth & body).sum())
        films.append({"film": film, "hip": "hip" in rows["body_part"].iloc[0], "fracture": fracture, "inside": inside})
    table = pd.DataFrame(films)
    kept = table["fracture"] > 0
    half_inside = (table["inside"] >= 0.5 * table["fracture"]) & kept
    return {
        "variant": settings.variant.value,
        "split_hands": settings.split_hands,
        "fills_film": "+".join(settings.fills_film) or "-",
        "fractured films": len(table),
        "fracture kept in a crop": f"{kept.mean():.1%}",
        "fracture >= half inside the body mask": f"{half_inside.mean():.1%}",
        "hip films: fracture >= half inside": f"{half_inside[table['hip']].mean():.1%} of {table['hip'].sum()}",
        "fracture pixels inside the body mask": f"{table['inside'].sum() / max(table['fracture'].sum(), 1):.1%}",
    }


def main() -> None:
    """Print the figures of the cropped and full variants, with and without splitting the foreground.

    The full variant without splitting runs once more with hip and shoulder films as films the body fills.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", default="../shared/data/fracatlas-lower")
    parser.add_argument("--cache-dir", default="datasets/preprocessed")
    args = parser.parse_args()
    rows = [
        coverage(args.root, PreprocessingSettings(variant, split_hands=split), args.cache_dir)
        for variant in ("cropped", "full")
        for split in (False, True)
    ]
    rows.append(coverage(args.root, PreprocessingSettings("full", False, ("hip", "shoulder")), args.cache_dir))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()

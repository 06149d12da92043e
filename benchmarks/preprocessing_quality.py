"""Benchmark of the offline preprocessing on synthetic films, which know their true hand masks and hand counts.

Prints hand-mask IoU (against the true mask mapped into each crop), hand-count accuracy (all films and two-hand
films), inversion accuracy, the share of films that fell back, and throughput with the cache's thread pool:

    python benchmarks/preprocessing_quality.py --films 200 --size 512
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from xray_anomalib.data.synthetic_hand import ANOMALY_KINDS, SyntheticFilm, draw_film
from xray_anomalib.film_pipeline.pipeline import OfflinePipeline, PreprocessingSettings, warp_to_crop


def _films(count: int, size: int, seed: int) -> list[SyntheticFilm]:
    rng = np.random.default_rng(seed)
    kinds = ["", *ANOMALY_KINDS]
    return [draw_film(rng, size, anomaly=kinds[i % len(kinds)], two_hands=i % 5 == 0) for i in range(count)]


def main() -> None:
    """Run the pipeline over synthetic films and print the figures as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--films", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    films = _films(args.films, args.size, args.seed)
    pipeline = OfflinePipeline(PreprocessingSettings("full"))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(lambda film: pipeline(film.film), films))
    seconds = time.perf_counter() - start
    ious, counts, two_hands, inversions, fallbacks = [], [], [], [], []
    for film, (crops, record) in zip(films, results, strict=True):
        for crop in crops:
            truth = warp_to_crop(film.hand_mask.astype(np.uint8), crop) > 0
            ious.append((truth & crop.hand_mask).sum() / max((truth | crop.hand_mask).sum(), 1))
        counts.append(len(crops) == len(film.hand_boxes))
        if len(film.hand_boxes) == 2:
            two_hands.append(len(crops) == 2)
        inversions.append(record.inverted == film.inverted)
        fallbacks.append(record.status == "fallback")
    print(
        f"{args.films} synthetic films, longest side {args.size} px, {args.workers} threads, OpenCV {cv2.__version__}"
    )
    print("| figure | value |")
    print("|---|---|")
    print(f"| hand-mask IoU, mean (min) | {np.mean(ious):.3f} ({np.min(ious):.3f}) |")
    print(f"| hand-mask IoU >= 0.9 | {np.mean(np.array(ious) >= 0.9):.0%} of crops |")
    print(f"| hand count correct | {np.mean(counts):.1%} |")
    print(f"| two-hand films split correctly | {np.mean(two_hands):.1%} ({len(two_hands)} films) |")
    print(f"| inversion detected correctly | {np.mean(inversions):.1%} |")
    print(f"| fell back | {np.mean(fallbacks):.1%} |")
    print(f"| throughput | {args.films / seconds:.1f} films/s |")


if __name__ == "__main__":
    main()

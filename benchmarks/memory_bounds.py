"""Peak memory of preprocessing and prediction as the dataset grows to MURA's size (40,005 films).

MURA-layout trees of growing size are made from a pool of synthetic films (hard links, so a 40,005-film tree
costs no disk), then each stage runs in a fresh process whose peak resident memory is read from the kernel:

- ``preprocess``: the datamodule's set-up with the full offline preprocessing (split, cache build, crop index);
- ``predict``: ``predict_folder`` with a small CAE over the tree (overlays, thumbnails, CSVs, HTML report);
- ``predict large``: the same over a folder of films far above any model's size (``--large-side`` pixels on the
  longest side, upscaled from four pool films), which the predictor reduces on reading.

Usage:
    python benchmarks/memory_bounds.py --preprocess 2500 10000 40005 --predict 1000 4000 16000 --large 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd

from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.data.synthetic import write_synthetic_mura

FILMS_PER_STUDY = 3
PREPROCESS = """
import json, resource, sys
from xray_anomalib.data import Mura
from xray_anomalib.film_pipeline import PreprocessingSettings
datamodule = Mura(root=sys.argv[1], image_size=64, preprocessing=PreprocessingSettings("full"), cache_dir=sys.argv[2])
datamodule.setup()
print(json.dumps({"crops": len(datamodule.preprocessing_records),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
PREDICT = """
import json, resource, sys
from xray_anomalib.deploy import Predictor, predict_folder
summary = predict_folder(Predictor(sys.argv[1]), sys.argv[2], sys.argv[3], progress=False)
print(json.dumps({"scored": summary.scored, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
TRAIN = """
import sys
from pathlib import Path
from anomalib.engine import Engine
from xray_anomalib.data import Mura
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.registry import build_model
datamodule = Mura(root=sys.argv[1], image_size=64, preprocessing=PreprocessingSettings("full"), cache_dir=sys.argv[2])
model = build_model("cae", image_size=64, channels=[8, 16, 32], bottleneck_channels=32)
engine = Engine(max_epochs=1, default_root_dir=sys.argv[3], enable_progress_bar=False, logger=False)
engine.fit(model=model, datamodule=datamodule)
print(Path(engine.trainer.checkpoint_callback.best_model_path).parents[2])
"""


def make_tree(pool: pd.DataFrame, root: Path, films: int) -> Path:
    """A MURA-layout tree of ``films`` films hard-linked from ``pool`` (labels kept with their films)."""
    if root.exists():
        return root
    for index in range(films):
        film = pool.iloc[index % len(pool)]
        label = "positive" if film["study_label"] else "negative"
        study = index // FILMS_PER_STUDY
        folder = root / "train" / "XR_HAND" / f"patient{study:05d}" / f"study1_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        os.link(film["image_path"], folder / f"image{index % FILMS_PER_STUDY + 1}.png")
    return root


def make_large_folder(pool: pd.DataFrame, folder: Path, films: int, side: int) -> Path:
    """A folder of ``films`` films of ``side`` pixels on the longest side, hard-linked from four upscaled ones."""
    if folder.exists():
        return folder
    folder.mkdir(parents=True)
    sources = []
    for index, path in enumerate(pool["image_path"].iloc[:4]):
        film = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        scale = side / max(film.shape[:2])
        large = cv2.resize(film, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        sources.append(folder / f"source{index}.png")
        cv2.imwrite(str(sources[-1]), large)
    for index in range(films - len(sources)):
        os.link(sources[index % len(sources)], folder / f"film{index:04d}.png")
    return folder


def run(script: str, *args: str) -> tuple[dict | str, float]:
    """Run a script in a fresh interpreter; return its last output line (parsed when JSON) and its seconds."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    last = result.stdout.strip().splitlines()[-1]
    seconds = time.perf_counter() - start
    return (json.loads(last) if last.startswith("{") else last), seconds


def main() -> None:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preprocess", type=int, nargs="*", default=[2500, 10000, 40005])
    parser.add_argument("--predict", type=int, nargs="*", default=[1000, 4000, 16000])
    parser.add_argument("--large", type=int, nargs="*", default=[100], help="Films in the large-film folders.")
    parser.add_argument("--large-side", type=int, default=6000, help="Longest side of the large films.")
    parser.add_argument("--work", type=Path, default=Path("results/memory_bounds"))
    args = parser.parse_args()
    pool_root = write_synthetic_mura(args.work / "pool" / "MURA-v1.1", n_patients=240, seed=0, longest_side=128)
    pool = read_mura_index(pool_root, mura_parts=["train"])
    run_folder, _ = run(TRAIN, str(pool_root), str(args.work / "cache"), str(args.work / "model"))
    rows = []
    for stage, sizes in (("preprocess", args.preprocess), ("predict", args.predict)):
        for films in sizes:
            root = make_tree(pool, args.work / f"tree{films}" / "MURA-v1.1", films)
            if stage == "preprocess":
                result, seconds = run(PREPROCESS, str(root), str(args.work / f"cache{films}"))
            else:
                result, seconds = run(PREDICT, run_folder, str(root / "train"), str(args.work / f"out{films}"))
            rows.append(
                {"stage": stage, "films": films, "peak_rss_mb": round(result["peak_mb"]), "seconds": round(seconds)}
            )
            print(rows[-1], flush=True)
    for films in args.large:
        folder = make_large_folder(pool, args.work / f"large{films}x{args.large_side}", films, args.large_side)
        result, seconds = run(PREDICT, run_folder, str(folder), str(args.work / f"out_large{films}"))
        stage = f"predict {args.large_side} px films"
        rows.append(
            {"stage": stage, "films": films, "peak_rss_mb": round(result["peak_mb"]), "seconds": round(seconds)}
        )
        print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()

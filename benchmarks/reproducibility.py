"""Does the main job repeat across thread counts and machine load? Train it under each and compare the metrics.

Runs ``anomalib train --config configs/cae.yaml`` (or ``--config``) once per condition, each in a fresh process
with its own results folder, and prints the test metrics anomalib reports side by side:

- ``2 threads``: torch's intra-op threads pinned to 2 (``OMP_NUM_THREADS``), a quiet machine;
- ``2 threads, loaded``: the same while a busy process competes for the cores;
- ``1 thread``: one intra-op thread.

Usage:
    python benchmarks/reproducibility.py --work results/reproducibility
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

METRIC_ROW = re.compile(r"^\W*(image_\w+|pixel_\w+)\W+(-?[0-9.]+(?:e-?[0-9]+)?|nan)\W*$", re.MULTILINE)
KEPT = re.compile(r"Kept epoch (\d+) of (\d+)")
BUSY = "while True: pass"
CONDITIONS = {"2 threads": (2, 0), "2 threads, loaded": (2, 1), "1 thread": (1, 0)}
"""Intra-op threads and busy processes beside the training, by name."""


def train(config: str, folder: Path, threads: int, load: int) -> dict[str, float | str]:
    """Train once with ``threads`` intra-op threads beside ``load`` busy processes; return its test metrics."""
    anomalib = shutil.which("anomalib", path=str(Path(sys.executable).parent)) or "anomalib"
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    burners = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(load)]
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [anomalib, "train", "--config", config, "--default_root_dir", str(folder)],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        )
    finally:
        for burner in burners:
            burner.kill()
    output = result.stdout + result.stderr
    kept = KEPT.search(output)
    return {
        "kept epoch": kept[1] if kept else "?",
        **{name: float(value) for name, value in METRIC_ROW.findall(output)},
        "minutes": round((time.perf_counter() - start) / 60, 1),
    }


def main() -> None:
    """Train under each condition and print a Markdown table of the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cae.yaml")
    parser.add_argument("--work", type=Path, default=Path("results/reproducibility"))
    parser.add_argument("--conditions", nargs="+", choices=sorted(CONDITIONS), default=sorted(CONDITIONS))
    args = parser.parse_args()
    rows = {}
    for name in args.conditions:
        threads, load = CONDITIONS[name]
        rows[name] = train(args.config, args.work / name.replace(" ", "_").replace(",", ""), threads, load)
        print(name, rows[name], flush=True)
    print(pd.DataFrame(rows).to_markdown())


if __name__ == "__main__":
    main()

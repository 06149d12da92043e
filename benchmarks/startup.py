"""Start-up time of the ``xray-anomalib`` commands: wall seconds from launch to exit, in fresh processes.

The light commands (``--help``, ``models``, ``split``) load neither torch nor anomalib; ``predict --help`` and
``benchmark`` on a wrong path show what a command that stops before its work costs. Each command runs
``--repeats`` times; the median is printed as a Markdown table:

    python benchmarks/startup.py --mura-csv ../shared/data/mura-v1.1-csv
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time

import pandas as pd


def seconds(command: list[str], repeats: int) -> float:
    """Median wall seconds of ``command`` (its exit code is not checked: errors are part of what is timed)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Time each command and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mura-csv", default="../shared/data/mura-v1.1-csv", help="MURA's CSVs, for split.")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    program = shutil.which("xray-anomalib") or "xray-anomalib"
    commands = {
        "xray-anomalib --help": [program, "--help"],
        "xray-anomalib models": [program, "models"],
        "xray-anomalib split <MURA CSVs>": [program, "split", args.mura_csv],
        "xray-anomalib predict --help": [program, "predict", "--help"],
        "xray-anomalib benchmark --config missing.yaml": [program, "benchmark", "--config", "missing.yaml"],
        "xray-anomalib predict --model missing": [program, "predict", "--model", "missing", "--input", "."],
    }
    rows = [{"command": name, "seconds": round(seconds(argv, args.repeats), 2)} for name, argv in commands.items()]
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()

"""The runs a benchmark script reads from a finished grid, chosen on its command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.runner import Run, runs_of


def runs_or_exit(
    parser: argparse.ArgumentParser, config: BenchmarkConfig, variant: str, seed: int, models: Sequence[str]
) -> list[Run]:
    """:func:`runs_of`, or the parser's usage error naming what the grid has when a label or seed is wrong."""
    try:
        return runs_of(config, variant, seed, models)
    except ValueError as error:
        parser.error(str(error))

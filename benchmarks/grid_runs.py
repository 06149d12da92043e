"""The runs a benchmark script reads from a finished grid, chosen on its command line."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence

from anomalib.models import AnomalibModule

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.runner import Run, checkpoint_of, datamodule_of, runs_of
from xray_anomalib.data import XrayDataModule
from xray_anomalib.deploy.backends import load_checkpoint


def runs_or_exit(
    parser: argparse.ArgumentParser, config: BenchmarkConfig, variant: str, seed: int, models: Sequence[str]
) -> list[Run]:
    """:func:`runs_of`, or the parser's usage error naming what the grid has when a label or seed is wrong."""
    try:
        return runs_of(config, variant, seed, models)
    except ValueError as error:
        parser.error(str(error))


def trained_runs(
    parser: argparse.ArgumentParser,
    config: BenchmarkConfig,
    variant: str,
    seeds: Sequence[int],
    models: Sequence[str],
) -> Iterator[tuple[Run, AnomalibModule, XrayDataModule]]:
    """Each finished run of ``models`` on each seed: the run, its trained model in eval mode and its datamodule.

    The datamodule is not set up, so that a script can refuse a run before its films are read.
    """
    for seed in seeds:
        for run in runs_or_exit(parser, config, variant, seed, models):
            model, _ = load_checkpoint(checkpoint_of(run, config))
            yield run, model.eval(), datamodule_of(run, config)

"""The benchmark grid: models x scores x preprocessing variants x seeds, the paper's Table 1 and plots.

Run it with ``xray-anomalib benchmark --config configs/benchmark/quick.yaml``.
"""

from xray_anomalib.benchmark.config import BenchmarkConfig, BenchmarkConfigError
from xray_anomalib.benchmark.evaluation import FilmScores, score_films
from xray_anomalib.benchmark.report import write_report
from xray_anomalib.benchmark.runner import collect_results, run_benchmark

__all__ = [
    "BenchmarkConfig",
    "BenchmarkConfigError",
    "FilmScores",
    "collect_results",
    "run_benchmark",
    "score_films",
    "write_report",
]

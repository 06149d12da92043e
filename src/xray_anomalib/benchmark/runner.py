"""Runs a benchmark grid: one training per model x variant x seed, every listed score read from it.

Each run leaves ``runs/<model>__<variant>__seed<seed>/result.json`` (status, settings, metrics, times) and
``films.csv`` (per-film scores, for ROC curves). A run with an ``ok`` result of the same settings is never redone,
so a killed benchmark continues where it stopped; a failed run is recorded with its error, the grid goes on, and
the next invocation retries it. A run whose settings changed in the config since it finished (the model's
arguments, epochs, scores, the data) is run again from scratch, and its old result is never reported.
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from anomalib.engine import Engine
from lightning.pytorch import Callback, seed_everything
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from xray_anomalib.benchmark.config import (
    DEFAULT_DATAMODULE,
    BenchmarkConfig,
    ModelConfig,
    VariantConfig,
)
from xray_anomalib.benchmark.evaluation import score_films, score_names
from xray_anomalib.callbacks import BestValidationCheckpoint, KeptBy, ValidationHistory
from xray_anomalib.data import XrayDataModule
from xray_anomalib.data.transforms import HistogramEqualization
from xray_anomalib.film_pipeline.pipeline import PIPELINE_VERSION
from xray_anomalib.models.components.trained_models import BuiltFromTrainedModels, TrainedModel
from xray_anomalib.registry import build_model, get_model_spec
from xray_anomalib.utils.atomic import write_text_atomic
from xray_anomalib.utils.class_path import import_class

logger = logging.getLogger(__name__)
RESULT_NAME = "result.json"
FILMS_NAME = "films.csv"
VALIDATION_COLUMNS = ("image_auroc", "pixel_auroc_in_body", "peak_hit")
"""Figures also recorded on the validation films (``val_`` prefixed), those settings may be chosen on."""
LATER_MODEL_FIELDS: dict[str, Any] = {"kept_by": KeptBy.IMAGE_AUROC.value, "callbacks": []}
"""Model fields added after runs were recorded, with their defaults (see :func:`run_settings`)."""


@dataclass(frozen=True)
class Run:
    """One cell of the grid."""

    model: ModelConfig
    variant: VariantConfig
    seed: int

    @property
    def run_id(self) -> str:
        """Folder name of the run."""
        return f"{self.model.display}__{self.variant.label}__seed{self.seed}"

    @property
    def labels(self) -> dict:
        """The columns that name the run in ``runs.csv``: model, variant and seed."""
        return {"model": self.model.display, "variant": self.variant.label, "seed": self.seed}


def grid(config: BenchmarkConfig) -> list[Run]:
    """Every run of the grid, seed by seed (so that early results already cover every model)."""
    return [Run(m, v, s) for s in config.seeds for v in config.variants for m in config.models]


def runs_of(config: BenchmarkConfig, variant: str, seed: int, models: Sequence[str]) -> list[Run]:
    """The runs of the grid's models labelled ``models``, in that order, for one variant label and seed.

    Raises:
        ValueError: Naming a variant, seed or model the grid does not have, with those it has.
    """
    variants = {v.label: v for v in config.variants}
    by_label = {m.display: m for m in config.models}
    unknown = [label for label in models if label not in by_label]
    if variant not in variants or seed not in config.seeds or unknown:
        msg = (
            f"Grid {config.name} has variants {sorted(variants)}, seeds {config.seeds} and models {sorted(by_label)}; "
            f"asked for variant {variant!r}, seed {seed} and models {list(models)}."
        )
        raise ValueError(msg)
    return [Run(by_label[label], variants[variant], seed) for label in models]


def datamodule_for(config: BenchmarkConfig, variant: VariantConfig, seed: int, image_size: int) -> XrayDataModule:
    """The dataset of a run: the configured data, this seed's split, this preprocessing variant, this size.

    ``data.class_path`` names the datamodule (:class:`~xray_anomalib.data.Mura` by default, or e.g.
    :class:`~xray_anomalib.data.FracAtlas`); the other keys of ``data`` are its arguments.
    """
    data = dict(config.data)
    datamodule_class = import_class(data.pop("class_path", DEFAULT_DATAMODULE))
    return datamodule_class(
        **{**data, "image_size": image_size},
        seed=seed,
        preprocessing=variant.settings(),
        film_transform=HistogramEqualization() if variant.equalize else None,
    )


def datamodule_of(run: Run, config: BenchmarkConfig) -> XrayDataModule:
    """The dataset a run trains and is scored on: :func:`datamodule_for` its variant, seed and model's image size."""
    return datamodule_for(config, run.variant, run.seed, config.image_size_of(run.model))


def member_runs(run: Run, config: BenchmarkConfig) -> list[Run]:
    """The runs an ensemble (any model built from trained models) combines; none for other models.

    They are the runs of the same variant and seed of the grid entries that its arguments name.
    """
    model_class = get_model_spec(run.model.name).load()
    if not issubclass(model_class, BuiltFromTrainedModels):
        return []
    by_label = {model.display: model for model in config.models}
    labels = model_class.trained_model_labels(run.model.init_args)
    return [Run(by_label[label], run.variant, run.seed) for label in labels]


def checkpoint_of(run: Run, config: BenchmarkConfig) -> Path:
    """The checkpoint a run's training left (anomalib's ``latest`` version of the run's folder)."""
    (checkpoint,) = (config.output / "runs" / run.run_id).glob("*/*/*/latest/weights/lightning/model.ckpt")
    return checkpoint


def resolved_init_args(run: Run, config: BenchmarkConfig) -> tuple[dict, float]:
    """A run's model arguments with the trained runs it combines (for an ensemble), and their training seconds.

    Raises:
        ValueError: Naming a member whose run has not finished with the current settings.
    """
    model_class = get_model_spec(run.model.name).load()
    if not issubclass(model_class, BuiltFromTrainedModels):
        return dict(run.model.init_args), 0.0
    members, seconds = [], 0.0
    for member in member_runs(run, config):
        result = recorded_result(member, config)
        if result is None or result["status"] != "ok":
            msg = f"Member run {member.run_id} has not finished; {run.run_id} needs its checkpoint."
            raise ValueError(msg)
        members.append(TrainedModel(member.model.name, checkpoint_of(member, config)))
        seconds += result["train_s"]
    return model_class.with_trained_models(run.model.init_args, members), seconds


def execute(run: Run, config: BenchmarkConfig, folder: Path) -> dict:
    """Train, score and measure one run; returns its result record.

    The weights scored are the epoch's of the best validation image AUROC, or of the model's ``kept_by`` figure
    (``kept_epoch``, 1 = after the first epoch; see :class:`~xray_anomalib.callbacks.BestValidationCheckpoint`).
    Each score's test metrics are recorded with its validation image AUROC, in-body pixel AUROC and peak hit
    (``val_...``), and each epoch's validation figures (``validation_by_epoch``). An ensemble's training time
    includes its members' (what the ensemble costs from scratch).
    """
    seed_everything(run.seed)
    image_size = config.image_size_of(run.model)
    datamodule = datamodule_of(run, config)
    seeded = {"seed": run.seed} if "seed" in inspect.signature(get_model_spec(run.model.name).load()).parameters else {}
    init_args, members_seconds = resolved_init_args(run, config)
    model = build_model(run.model.name, **{"image_size": image_size, **seeded, **init_args})
    computed = list(score_names(model))
    wanted = run.model.scores or computed
    missing = sorted(set(wanted) - set(computed))
    if missing:  # checked before training, which would otherwise be wasted
        msg = f"{run.model.display} has no score(s) {missing}; it computes {computed}."
        raise ValueError(msg)
    kept_by = KeptBy(run.model.kept_by)
    history = ValidationHistory()
    callbacks: list[Callback] = [history]
    if kept_by is not KeptBy.IMAGE_AUROC:
        callbacks.append(BestValidationCheckpoint(monitor=kept_by))
    callbacks += [import_class(item["class_path"])(**item.get("init_args", {})) for item in run.model.callbacks]
    engine = Engine(
        max_epochs=run.model.max_epochs,
        default_root_dir=folder,
        enable_progress_bar=False,
        logger=False,
        callbacks=callbacks,
    )
    start = time.perf_counter()
    engine.fit(model=model, datamodule=datamodule)
    train_seconds = time.perf_counter() - start + members_seconds
    scored = score_films(model, datamodule)
    scored.films[["study_id", "film_path", "label", *wanted]].to_csv(folder / FILMS_NAME, index=False)
    datamodule.save_manifest(config.output / "manifests" / f"seed{run.seed}")
    metrics = scored.metrics.set_index("score").loc[wanted]
    validation = score_films(model, datamodule, "val").metrics.set_index("score").loc[wanted, list(VALIDATION_COLUMNS)]
    metrics = metrics.join(validation.add_prefix("val_")).reset_index()
    kept = getattr(engine.trainer.checkpoint_callback, "kept_epoch", None)
    return {
        "status": "ok",
        "kept_epoch": kept,
        "validation_by_epoch": history.epochs,
        "train_s": train_seconds,
        "ms_per_image": scored.ms_per_image,
        "test_films": len(scored.films),
        "metrics": metrics.to_dict("records"),
    }


def run_settings(run: Run, config: BenchmarkConfig) -> dict:
    """Everything that decides a run's result, as JSON values (an ensemble's include its members').

    The film pipeline's version is among them: a run preprocessed by an earlier pipeline (other crops, other body
    masks) is run again. A model field added after runs were recorded (:data:`LATER_MODEL_FIELDS`) is left out at
    its default, so that those runs still count.
    """
    model = {
        name: value
        for name, value in asdict(run.model).items()
        if name not in LATER_MODEL_FIELDS or value != LATER_MODEL_FIELDS[name]
    }
    settings = {
        "model": model,
        "variant": asdict(run.variant),
        "seed": run.seed,
        "data": config.data,
        "pipeline_version": PIPELINE_VERSION,
    }
    members = [run_settings(member, config) for member in member_runs(run, config)]
    return json.loads(json.dumps({**settings, **({"members": members} if members else {})}, default=str))


def recorded_result(run: Run, config: BenchmarkConfig) -> dict | None:
    """The run's result file when one was written with the current settings, else ``None`` (logged if stale)."""
    path = config.output / "runs" / run.run_id / RESULT_NAME
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    if result.get("settings") != run_settings(run, config):
        logger.warning("Run %s ran with other settings than the config's now; its result does not count", run.run_id)
        return None
    return result


def run_benchmark(config: BenchmarkConfig, seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Run (or continue) the grid and return one row per run and score (``runs.csv`` is written beside it).

    Args:
        config: The grid.
        seeds: Run only these of the grid's seeds (a long grid in parts); the result still holds every finished run.

    Raises:
        ValueError: ``seeds`` names a seed the grid does not have.
    """
    runs = grid(config)
    if seeds is not None:
        if unknown := sorted(set(seeds) - set(config.seeds)):
            msg = f"Grid {config.name} has seeds {config.seeds}; asked to run seeds {unknown}, which it does not have."
            raise ValueError(msg)
        runs = [run for run in runs if run.seed in seeds]
    (config.output / "runs").mkdir(parents=True, exist_ok=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns) as progress:
        task = progress.add_task(f"benchmark {config.name}", total=len(runs))
        for index, run in enumerate(runs, start=1):
            folder = config.output / "runs" / run.run_id
            recorded = recorded_result(run, config)
            if recorded is not None and recorded["status"] == "ok":
                progress.advance(task)
                continue
            if recorded is None and folder.exists():
                shutil.rmtree(folder)  # a stale run's checkpoints and films must not mix with the new ones
            progress.update(task, description=f"run {index}/{len(runs)}: {run.run_id}")
            folder.mkdir(parents=True, exist_ok=True)
            try:
                result = execute(run, config, folder)
            except Exception as error:
                logger.exception("Benchmark run %s failed", run.run_id)
                result = {
                    "status": "failed",
                    "error": f"{type(error).__name__}: {error}",
                    "traceback": traceback.format_exc(),
                }
            record = {**run.labels, "settings": run_settings(run, config), **result}
            write_text_atomic(folder / RESULT_NAME, json.dumps(record, indent=2))
            progress.advance(task)
    return collect_results(config)


def collect_results(config: BenchmarkConfig) -> pd.DataFrame:
    """One row per run and score from the runs' result files, written to ``runs.csv``.

    Failed runs give a row with their error; results of other settings than the config's are left out.
    """
    rows = []
    for run in grid(config):
        result = recorded_result(run, config)
        if result is None:
            continue
        shared = {**run.labels, "status": result["status"]}
        if result["status"] != "ok":
            rows.append({**shared, "error": result["error"]})
            continue
        run_wide = {key: result.get(key) for key in ("kept_epoch", "train_s", "ms_per_image")}
        rows.extend({**shared, **metrics, **run_wide} for metrics in result["metrics"])
    table = pd.DataFrame(rows)
    table.to_csv(config.output / "runs.csv", index=False)
    return table

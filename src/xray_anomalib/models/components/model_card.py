"""The model card: what a model was trained on, how well it did, how it reads films, and where it fails.

Every run folder gets ``MODEL_CARD.md`` and ``model_card.json`` when its model is tested, and every OpenVINO export
gets them beside its graph. The card holds the data (collection, films and patients per part and body part, the
split manifest's SHA-256), the preparation of films (preprocessing, film transform, body mask), the model and its
hyperparameters, the epoch kept with its validation image AUROC and interval, the threshold policy and the
operating point it reaches on the test films, the test metrics with their 95% bootstrap intervals, the intended
use and the known failure kinds. The part known at fit travels in each checkpoint, so that an export made later
from the checkpoint has its card; the test metrics are taken from the run folder's card where they match.

Example:
    >>> card = ModelCard.read("results/Cae/synthetic_mura/xr_hand/v0")  # doctest: +SKIP
    >>> card.test["metrics"]["image_AUROC"]  # doctest: +SKIP
    {'value': 0.69, 'low': 0.61, 'high': 0.77}
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from lightning.pytorch import Callback, Trainer

from xray_anomalib.callbacks import BestValidationCheckpoint, RunFolderConfig
from xray_anomalib.data.split import SPLITS, manifest_digest
from xray_anomalib.models.components.deployment import DeployableMixin
from xray_anomalib.utils.atomic import write_text_atomic
from xray_anomalib.utils.class_path import class_path_of

logger = logging.getLogger(__name__)

CARD_JSON = "model_card.json"
CHECKPOINT_KEY = "xray_model_card"
CARD_MARKDOWN = "MODEL_CARD.md"
CARD_VERSION = 1
INTERVAL_ENDS = ("_ci_low", "_ci_high")
HEADLINE_METRICS = (
    "image_AUROC",
    "pixel_AUROC_in_body",
    "image_sensitivity_at_90_specificity",
    "study_AUROC",
    "study_sensitivity_at_90_specificity",
)
"""The test metrics a prediction report opens with."""
TEST_METRIC_PREFIXES = ("image_", "pixel_", "film_", "study_")
"""The test metrics a card records: per item (hand crop), per pixel, per film and per study."""
INTENDED_USE = (
    "Hints for a reader of X-ray films: the score says how unlike the normal training films a film looks, and the "
    "heatmap where. Not a diagnosis, and not validated for clinical use: a normal-looking score does not rule a "
    "finding out, and a high one may mark a cast, an implant or a marker as well as a finding."
)
KNOWN_FAILURES = (
    "The body mask is wrong on films with a light background and a white frame, on collimated inner rectangles "
    "lighter than the film, where a marker block touches the hand, and on hip and pelvis films that the body fills "
    "unless the preprocessing lists their body part in fills_film (docs/preprocessing.md).",
    "Hands that touch each other are not split into two crops (docs/preprocessing.md).",
    "On grainy low-contrast films (18 of 400 RSNA hands) the hand is segmented at a lower threshold that keeps "
    "the bones and inner tissue but cuts the skin's edge, and the film's record says so (docs/preprocessing.md).",
    "Casts, implants and multi-view films raise the image score without any finding: on real fractures the image "
    "score follows them rather than the fracture (docs/benchmarks.md).",
    "Trained on one collection and one scanner population: films of other devices, exposures or body parts than "
    "the training films are out of distribution and score high for that reason alone.",
)
DATA_SETTINGS = ("body_parts", "implants", "reviewed_metal", "split_mode", "seed", "image_size", "labels")
"""Datamodule attributes recorded on the card where the datamodule has them."""


@dataclass
class ModelCard:
    """The card's sections, each plain data (see the module docstring).

    Attributes:
        model: ``class_path``, ``name`` and ``hyperparameters``.
        data: The training collection: datamodule, settings, films per part and body part, manifest digest.
        preparation: Image size, offline preprocessing, film transform and body mask of the films.
        training: Epoch kept, epochs asked for, how it was selected, validation metrics.
        threshold: The image threshold's policy and its normalised value.
        test: The test collection's films and the test metrics, or ``None`` before a test.
        intended_use: What the model's outputs are for.
        known_failures: Failure kinds seen so far.
        software: Versions of the packages that trained the model.
        created: When the card was written (UTC, ISO 8601).
        version: Format version of the card.
    """

    model: dict[str, Any]
    data: dict[str, Any]
    preparation: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] | None = None
    intended_use: str = INTENDED_USE
    known_failures: list[str] = field(default_factory=lambda: list(KNOWN_FAILURES))
    software: dict[str, str] = field(default_factory=dict)
    created: str = ""
    version: int = CARD_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model card") -> ModelCard:
        """Rebuild a card written by :meth:`to_dict`; ``source`` names the file in error messages.

        Raises:
            ValueError: When the card is of another format version or holds unknown sections.
        """
        if data.get("version") != CARD_VERSION:
            msg = f"{source}: a model card of version {data.get('version')}; this xray-anomalib reads {CARD_VERSION}."
            raise ValueError(msg)
        if unknown := set(data) - set(cls.__dataclass_fields__):
            msg = f"{source}: unknown model card sections {sorted(unknown)}."
            raise ValueError(msg)
        return cls(**data)

    def headline(self) -> dict[str, str]:
        """The few lines a prediction report opens with."""
        lines = {
            "model": self.model.get("name", "?"),
            "trained on": f"{self.data.get('root', '?')} ({_films_line(self.data.get('films', {}).get('train'))})",
            "epoch kept": _epoch_line(self.training),
            "threshold": str(self.threshold.get("policy", "?")),
        }
        metrics = (self.test or {}).get("metrics", {})
        for name in HEADLINE_METRICS:
            if name in metrics:
                lines[f"test {name}"] = format_metric(metrics[name])
        if self.test is None:
            lines["test"] = "not recorded for these weights"
        lines["intended use"] = self.intended_use
        return lines

    def write(self, folder: str | Path) -> Path:
        """Write ``model_card.json`` and ``MODEL_CARD.md`` into ``folder`` (made if missing); returns the Markdown."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / CARD_JSON, json.dumps(self.to_dict(), indent=2, allow_nan=True))
        text = _TEMPLATES.get_template("MODEL_CARD.md").render(card=self, films_line=_films_line)
        return write_text_atomic(folder / CARD_MARKDOWN, text)

    @classmethod
    def read(cls, folder: str | Path) -> ModelCard | None:
        """The card in ``folder``, or ``None`` when it has none.

        Raises:
            ValueError: When the card cannot be parsed.
        """
        path = Path(folder) / CARD_JSON
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            msg = f"{path} is not a model card: {error}"
            raise ValueError(msg) from error
        return cls.from_dict(data, source=str(path))


def grouped_metrics(metrics: dict[str, float], prefix: str = "") -> dict[str, Any]:
    """Metrics by name without ``prefix``; one with ``_ci_low`` and ``_ci_high`` beside it as ``{value, low, high}``."""
    grouped: dict[str, Any] = {}
    for name, value in sorted(metrics.items()):
        if not name.startswith(prefix) or name.endswith(INTERVAL_ENDS):
            continue
        low, high = (metrics.get(name + end) for end in INTERVAL_ENDS)
        key = name.removeprefix(prefix)
        grouped[key] = value if low is None else {"value": value, "low": low, "high": high}
    return grouped


def format_metric(metric: float | dict[str, float] | str | None) -> str:
    """``0.693 [0.612, 0.771]`` for a metric with its interval, ``0.693`` without, ``n/a`` for NaN or none."""
    if isinstance(metric, dict):
        value = format_metric(metric["value"])
        return value if math.isnan(metric["low"]) else f"{value} [{metric['low']:.3f}, {metric['high']:.3f}]"
    if metric is None or (isinstance(metric, float) and math.isnan(metric)):
        return "n/a"
    return f"{metric:.3f}" if isinstance(metric, float) else str(metric)


def data_section(datamodule: Any) -> dict[str, Any]:
    """The card's data section of a datamodule (an X-ray one with a split; others by their class alone)."""
    section: dict[str, Any] = {"datamodule": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}"}
    manifest = getattr(datamodule, "manifest", None)
    if manifest is None:
        return section
    section["root"] = str(Path(datamodule.root).resolve())
    section["settings"] = {
        name: plain(getattr(datamodule, name)) for name in DATA_SETTINGS if hasattr(datamodule, name)
    }
    section["films"] = {split: film_counts(manifest[manifest["split"] == split]) for split in SPLITS}
    section["films_per_body_part"] = {
        str(part): {split: int((rows["split"] == split).sum()) for split in SPLITS}
        for part, rows in manifest.groupby("body_part")
    }
    section["split_manifest_sha256"] = manifest_digest(manifest)
    return section


def film_counts(part: Any) -> dict[str, int]:
    """Films, anomalous films (of positive studies) and patients of one part of a manifest."""
    return {
        "films": len(part),
        "anomalous": int(part["study_label"].sum()),
        "patients": int(part["patient_id"].nunique()),
    }


def software_versions() -> dict[str, str]:
    """Versions of the packages that train and run the models."""
    versions = {}
    for package in ("xray-anomalib", "anomalib", "torch", "lightning"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: enums by value, paths and other objects by their text."""
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _films_line(counts: dict[str, int] | None) -> str:
    if not counts:
        return "films unknown"
    return f"{counts['films']} films, {counts['anomalous']} anomalous, {counts['patients']} patients"


def _epoch_line(training: dict[str, Any]) -> str:
    if "epoch" not in training:
        return "unknown"
    line = f"{training['epoch']} of {training.get('max_epochs', '?')}"
    auroc = training.get("validation", {}).get("image_AUROC")
    return line if auroc is None else f"{line} (validation image AUROC {format_metric(auroc)})"


class ModelCardMixin(DeployableMixin):
    """Mix into an ``AnomalibModule`` in place of ``DeployableMixin``, which it extends, to give the model its card.

    The card is kept in checkpoints, written into the run folder after a test and beside every OpenVINO export.
    """

    _card: ModelCard | None = None
    _saved_training: dict[int, dict[str, Any]]

    def model_card(self) -> ModelCard | None:
        """The card of the model as it is now (its current threshold); ``None`` when xray-anomalib did not fit it."""
        settings = self.deployment_settings()
        if self._card is None or settings is None:
            return None
        preparation = {
            "image_size": settings.image_size,
            "preprocessing": None if settings.preprocessing is None else settings.preprocessing.to_dict(),
            "film_transform": settings.film_transform,
            "hand_mask_source": settings.hand_mask_source,
        }
        threshold = {
            "policy": settings.threshold_policy,
            "image_threshold": settings.image_threshold,
            "pixel_threshold": settings.pixel_threshold,
        }
        return replace(self._card, preparation=preparation, threshold=threshold, created=now())

    def configure_callbacks(self) -> Sequence[Callback] | Callback:
        """The other components' callbacks and one that keeps ``config.yaml`` in the run folder beside the card."""
        callbacks = super().configure_callbacks()
        callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        return [*callbacks, RunFolderConfig()]

    def on_fit_start(self) -> None:
        """Start the card: the model and the training collection."""
        super().on_fit_start()
        model = {
            "class_path": class_path_of(self),
            "name": type(self).__name__,
            "hyperparameters": self._hyperparameters(),
        }
        datamodule = getattr(self.trainer, "datamodule", None)
        self._card = ModelCard(model=model, data=data_section(datamodule), software=software_versions())
        self._saved_training = {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the card, with the epoch being saved and its validation metrics, in the checkpoint."""
        super().on_save_checkpoint(checkpoint)
        if self._card is None:
            return
        training = self._training(epoch=int(checkpoint.get("epoch", self.trainer.current_epoch)) + 1)
        self._saved_training[training["epoch"]] = training
        self._card.training = training
        if (card := self.model_card()) is not None:
            checkpoint[CHECKPOINT_KEY] = card.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the card (checkpoints of older versions have none)."""
        super().on_load_checkpoint(checkpoint)
        data = checkpoint.get(CHECKPOINT_KEY)
        self._card = None if data is None else ModelCard.from_dict(data, source="checkpoint")

    def on_fit_end(self) -> None:
        """The card describes the epoch kept (the model in memory has its weights)."""
        super().on_fit_end()
        if self._card is None:
            return
        kept = getattr(self.trainer.checkpoint_callback, "kept_epoch", None)
        saved = None if kept is None else self._saved_training.get(kept)
        self._card.training = saved or self._training(epoch=self.trainer.current_epoch)

    def on_test_end(self) -> None:
        """Add the test collection and metrics, and write the card into the run folder."""
        super().on_test_end()
        if self._card is None:
            return
        metrics = {
            name: float(value)
            for name, value in self.trainer.callback_metrics.items()
            if name.startswith(TEST_METRIC_PREFIXES)
        }
        self._card.test = {
            "data": data_section(getattr(self.trainer, "datamodule", None)),
            "metrics": grouped_metrics(metrics),
        }
        card = self.model_card()
        if card is not None and self.trainer.is_global_zero:
            card.write(self.trainer.default_root_dir)

    def to_openvino(self, export_root: Path | str, *args: Any, **kwargs: Any) -> Path:
        """Export, and write the card beside the graph (with the test of its run folder when it is of these weights)."""
        path = super().to_openvino(export_root, *args, **kwargs)
        card = self.model_card()
        if card is not None:
            card.test = card.test or _test_of_run(card)
            card.write(path.parent)
        return path

    def _training(self, epoch: int) -> dict[str, Any]:
        """The training section for the weights of ``epoch`` (1 = after the first epoch)."""
        trainer = self.trainer
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("val_")}
        kept = trainer.checkpoint_callback
        return {
            "epoch": epoch,
            "max_epochs": trainer.max_epochs,
            "selected_by": (
                f"the best validation {kept.kept_by.description}"
                if isinstance(kept, BestValidationCheckpoint)
                else "the last epoch"
            ),
            "validation": grouped_metrics(metrics, prefix="val_"),
            "run_folder": str(Path(trainer.default_root_dir).resolve()),
            "logs": logger_locations(trainer),
        }

    def _hyperparameters(self) -> dict[str, Any]:
        """The saved hyperparameters that are plain data (components such as pre-processors left out)."""
        return {name: value for name, value in self.hparams.items() if _is_plain(value)}


def logger_locations(trainer: Trainer) -> dict[str, str]:
    """Where each logger of the trainer keeps the run's losses and metrics (its folder, and MLflow's run id)."""
    locations = {}
    for logger in trainer.loggers:
        folder = getattr(logger, "log_dir", None) or logger.save_dir
        place = "a remote store" if folder is None else str(Path(folder).resolve())
        run_id = getattr(logger, "run_id", None)
        locations[type(logger).__name__] = f"{place} (run {run_id})" if run_id else place
    return locations


def _test_of_run(card: ModelCard) -> dict[str, Any] | None:
    """The test section of the card in the weights' run folder, where that card is of the same weights and split."""
    folder = card.training.get("run_folder")
    try:
        tested = None if folder is None else ModelCard.read(folder)
    except ValueError as error:
        logger.warning("The run folder's model card is left out of the export's: %s", error)
        return None
    same = ("epoch", "run_folder")
    if tested is None or any(tested.training.get(key) != card.training.get(key) for key in same):
        return None
    digest = "split_manifest_sha256"
    return tested.test if tested.data.get(digest) == card.data.get(digest) else None


def _is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_plain(item) for item in value.values())
    if isinstance(value, tuple | list):
        return all(_is_plain(item) for item in value)
    return isinstance(value, str | int | float | bool) or value is None


_TEMPLATES = Environment(
    loader=PackageLoader("xray_anomalib.models.components"), autoescape=False, keep_trailing_newline=True
)
_TEMPLATES.filters["metric"] = format_metric

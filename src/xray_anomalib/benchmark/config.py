"""Benchmark configuration: a dataset, preprocessing variants, models with their scores, and seeds.

Example ``configs/benchmark/quick.yaml``::

    name: quick
    output: results/benchmark/quick
    seeds: [0, 1]
    data: {root: null, image_size: 64, mask_dir: masks}
    variants:
      - {variant: raw}
      - {variant: full, equalize: true}
    models:
      - {name: cae, max_epochs: 3, init_args: {channels: [16, 32, 64]}, scores: [mse, topk]}
      - {name: padim, init_args: {backbone: resnet18, pre_trained: false}}
      - {name: ensemble, init_args: {members: [cae, vae], method: rank}}

An ``ensemble`` entry names earlier models of the grid as its members: each of its runs combines the members' runs
of the same variant and seed (their checkpoints), which the grid trains first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from xray_anomalib.film_pipeline import Variant

ENSEMBLE_MODEL = "ensemble"
"""Registry name of the model ensemble, whose ``members`` are labels of earlier models in a grid."""


class BenchmarkConfigError(ValueError):
    """Raised when a benchmark config is missing a key, has an unknown one, or a wrong value."""


def _check_members(model: ModelConfig, earlier: list[str], where: str) -> None:
    """An ensemble's members must be two or more labels of models listed before it."""
    if model.name != ENSEMBLE_MODEL:
        return
    members = model.init_args.get("members")
    if not isinstance(members, list) or len(members) < 2 or not set(members) <= set(earlier):
        msg = (
            f"{where}: an ensemble's init_args.members must list two or more labels of the models before it "
            f"({earlier}); got {members!r}."
        )
        raise BenchmarkConfigError(msg)


def _build(cls: type, values: Any, where: str) -> Any:
    """Instantiate a config dataclass from a mapping, naming unknown and missing keys."""
    if not isinstance(values, dict):
        msg = f"{where}: expected a mapping with keys {[item.name for item in fields(cls)]}, got {values!r}."
        raise BenchmarkConfigError(msg)
    known = {item.name for item in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        msg = f"{where}: unknown key(s) {unknown}; known keys: {sorted(known)}."
        raise BenchmarkConfigError(msg)
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        msg = f"{where}: {error}"
        raise BenchmarkConfigError(msg) from error


@dataclass(frozen=True)
class VariantConfig:
    """One preprocessing variant of the ablation.

    Attributes:
        variant: ``raw``, ``cropped`` or ``full``.
        equalize: Histogram equalisation of each film (the paper's online step).
        split_hands: One crop per hand on films that show two (``false`` for limbs: one foreground per film).
    """

    variant: str
    equalize: bool = False
    split_hands: bool = True

    def __post_init__(self) -> None:
        """Check the variant name."""
        Variant(self.variant)

    @property
    def label(self) -> str:
        """Short name used in tables and run folders, e.g. ``full+eq`` (``+whole`` when hands are not split)."""
        return self.variant + ("+eq" if self.equalize else "") + ("" if self.split_hands else "+whole")


@dataclass(frozen=True)
class ModelConfig:
    """One model of the grid, trained once per variant and seed; all its listed scores are read from that run.

    Attributes:
        name: Registry name (``xray-anomalib models``).
        init_args: Arguments of the model class (``image_size`` comes from the data settings).
        scores: Scores to report; empty means every score the model computes (one for the baselines).
        max_epochs: Training epochs (memory-bank baselines fit in one).
        label: Name in tables; defaults to ``name``.
        image_size: This model's input size, when it differs from ``data.image_size`` (the paper trained BiGAN and
            alpha-GAN at 128 px, the others at 512 px).
    """

    name: str
    init_args: dict[str, Any] = field(default_factory=dict)
    scores: list[str] = field(default_factory=list)
    max_epochs: int = 1
    label: str = ""
    image_size: int | None = None

    @property
    def display(self) -> str:
        """The label, or the registry name."""
        return self.label or self.name


@dataclass(frozen=True)
class BenchmarkConfig:
    """A benchmark grid: models x variants x seeds on one dataset.

    Attributes:
        name: Title of the report.
        output: Folder of runs, CSVs, tables, plots and manifests.
        data: Arguments of :class:`xray_anomalib.data.Mura` (not ``seed``, ``preprocessing``, ``film_transform``).
        variants: Preprocessing variants.
        models: Models and their scores.
        seeds: Seeds; each redraws the patient-wise split and seeds training.
    """

    name: str
    output: Path
    data: dict[str, Any]
    variants: list[VariantConfig]
    models: list[ModelConfig]
    seeds: list[int] = field(default_factory=lambda: [0])

    @classmethod
    def from_yaml(cls, path: str | Path) -> BenchmarkConfig:
        """Read and check a benchmark YAML file."""
        path = Path(path)
        if not path.is_file():
            msg = f"Benchmark config not found: {path}."
            raise BenchmarkConfigError(msg)
        raw = yaml.safe_load(path.read_text()) or {}
        config = _build(cls, raw, str(path))
        reserved = sorted({"seed", "preprocessing", "film_transform"} & set(config.data))
        if reserved:
            msg = f"{path}: data must not set {reserved}; the grid sets them per run."
            raise BenchmarkConfigError(msg)
        variants = [_build(VariantConfig, item, f"{path}: variants[{i}]") for i, item in enumerate(config.variants)]
        models = [_build(ModelConfig, item, f"{path}: models[{i}]") for i, item in enumerate(config.models)]
        if not variants or not models or not config.seeds:
            msg = f"{path}: variants, models and seeds must each list at least one entry."
            raise BenchmarkConfigError(msg)
        labels = [model.display for model in models]
        if len(set(labels)) != len(labels):
            msg = f"{path}: model labels must be unique; got {labels} (set label: to tell entries apart)."
            raise BenchmarkConfigError(msg)
        for index, model in enumerate(models):
            _check_members(model, labels[:index], f"{path}: models[{index}]")
        return cls(config.name, Path(config.output), dict(config.data), variants, models, list(config.seeds))

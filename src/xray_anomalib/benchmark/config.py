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
of the same variant and seed (their checkpoints), which the grid trains first. Any model built from trained models
(:class:`~xray_anomalib.models.components.trained_models.BuiltFromTrainedModels`) says itself which labels its
arguments name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from xray_anomalib.callbacks import KeptBy
from xray_anomalib.film_pipeline import PreprocessingSettings, Variant
from xray_anomalib.io.text import read_yaml
from xray_anomalib.models.components.trained_models import BuiltFromTrainedModels, TrainedModel
from xray_anomalib.registry import UnknownModelError, get_model_spec
from xray_anomalib.utils.arguments import ConfigValueError, check_class_arguments, checked_value
from xray_anomalib.utils.class_path import import_class

DEFAULT_DATAMODULE = "xray_anomalib.data.Mura"
"""The datamodule of a grid whose ``data`` names no ``class_path``."""
DEFAULT_IMAGE_SIZE = 256
"""The input size of a grid whose ``data`` and model set none (the datamodules' default)."""
GRID_DATA_ARGUMENTS = frozenset({"seed", "preprocessing", "film_transform"})
"""Datamodule arguments the grid sets per run."""


class BenchmarkConfigError(ValueError):
    """Raised when a benchmark config is missing a key, has an unknown one, or a wrong value."""


def _with_earlier_models(
    model_class: type[BuiltFromTrainedModels], arguments: dict[str, Any], earlier: dict[str, str], key: str
) -> dict[str, Any]:
    """The arguments of a model built from trained models, the labels it names (models listed before it) resolved.

    The checkpoints are stand-ins: only the arguments' shape is checked before any run.
    """
    try:
        labels = model_class.trained_model_labels(arguments)
    except ValueError as error:
        msg = f"{key}.init_args.{error}"
        raise BenchmarkConfigError(msg) from error
    unknown = [label for label in labels if label not in earlier]
    if unknown:
        msg = f"{key}.init_args: {unknown} name no model listed before it ({list(earlier)}); it names {labels}"
        raise BenchmarkConfigError(msg)
    stand_ins = [TrainedModel(earlier[label], Path(f"<checkpoint of {label}>")) for label in labels]
    return model_class.with_trained_models(arguments, stand_ins)


def _build(cls: type, values: Any, key: str) -> Any:
    """Instantiate a config dataclass from a mapping, each value checked against its field's type.

    Fields holding lists of config dataclasses are only checked to be lists; the caller builds their items.
    """
    known = [item.name for item in fields(cls)]
    if not isinstance(values, dict):
        msg = f"{key}: expected a mapping with keys {known}, got {values!r}"
        raise BenchmarkConfigError(msg)
    unknown = sorted(set(values) - set(known))
    if unknown:
        msg = f"{key}: unknown key(s) {unknown}; known keys: {sorted(known)}"
        raise BenchmarkConfigError(msg)
    hints = get_type_hints(cls)
    checked = {}
    for name, value in values.items():
        item_type = get_args(hints[name])[0] if get_origin(hints[name]) is list else None
        hint = list if is_dataclass(item_type) else hints[name]
        checked[name] = checked_value(hint, value, f"{key}.{name}".lstrip("."))
    try:
        return cls(**checked)
    except (TypeError, ValueError) as error:
        msg = f"{key}: {error}"
        raise BenchmarkConfigError(msg) from error


def _check_model(model: ModelConfig, image_size: int, earlier: dict[str, str], key: str) -> None:
    """The model is registered and takes its ``init_args`` (with the grid's ``image_size`` and ``seed``).

    ``earlier`` maps the labels of the models listed before it to their registry names.
    """
    try:
        model_class = get_model_spec(model.name).load()
    except UnknownModelError as error:
        msg = f"{key}.name: {error}"
        raise BenchmarkConfigError(msg) from error
    arguments = {"image_size": image_size, **model.init_args}
    if issubclass(model_class, BuiltFromTrainedModels):
        arguments = _with_earlier_models(model_class, arguments, earlier, key)
    check_class_arguments(model_class, arguments, f"{key}.init_args", skip={"seed"})
    for index, callback in enumerate(model.callbacks):
        where = f"{key}.callbacks[{index}]"
        unknown = sorted(set(callback) - {"class_path", "init_args"})
        if "class_path" not in callback or unknown:
            msg = f"{where}: expected {{class_path: ..., init_args: {{...}}}}, got {callback!r}"
            raise BenchmarkConfigError(msg)
        callback_class = _imported(callback["class_path"], f"{where}.class_path")
        check_class_arguments(callback_class, callback.get("init_args", {}), f"{where}.init_args")


def _imported(class_path: Any, key: str) -> type:
    """The class ``class_path`` names (a string checked first).

    Raises:
        BenchmarkConfigError: ``<key>: cannot import '<class_path>' (<why>)``.
    """
    class_path = checked_value(str, class_path, key)
    try:
        return import_class(class_path)
    except (ImportError, AttributeError, ValueError) as error:
        msg = f"{key}: cannot import {class_path!r} ({error})"
        raise BenchmarkConfigError(msg) from error


def _check_data(data: dict[str, Any]) -> None:
    """``data`` names a datamodule that takes its arguments; the grid's own arguments are not set."""
    reserved = sorted(GRID_DATA_ARGUMENTS & set(data))
    if reserved:
        msg = f"data must not set {reserved}; the grid sets them per run"
        raise BenchmarkConfigError(msg)
    arguments = dict(data)
    datamodule_class = _imported(arguments.pop("class_path", DEFAULT_DATAMODULE), "data.class_path")
    check_class_arguments(datamodule_class, arguments, "data", skip=GRID_DATA_ARGUMENTS)


@dataclass(frozen=True)
class VariantConfig:
    """One preprocessing variant of the ablation.

    Attributes:
        variant: ``raw``, ``cropped`` or ``full``.
        equalize: Histogram equalisation of each film (the paper's online step).
        split_hands: One crop per hand on films that show two (``false`` for limbs: one foreground per film).
        fills_film: Body parts whose body fills the film (see :class:`PreprocessingSettings`).
    """

    variant: str
    equalize: bool = False
    split_hands: bool = True
    fills_film: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the variant name."""
        Variant(self.variant)

    @property
    def label(self) -> str:
        """Short name used in tables and run folders, e.g. ``full+eq``.

        ``+whole`` when hands are not split, ``+fill`` when some body parts fill the film.
        """
        flags = {"+eq": self.equalize, "+whole": not self.split_hands, "+fill": bool(self.fills_film)}
        return self.variant + "".join(flag for flag, on in flags.items() if on)

    def settings(self) -> PreprocessingSettings:
        """The offline pipeline's settings of this variant."""
        return PreprocessingSettings(self.variant, split_hands=self.split_hands, fills_film=tuple(self.fills_film))


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
        kept_by: The validation figure whose best epoch is kept (:class:`~xray_anomalib.callbacks.KeptBy`; the
            image AUROC by default).
        callbacks: Lightning callbacks added to the run's trainer, each ``{class_path: ..., init_args: {...}}`` as in
            anomalib's ``trainer.callbacks`` (e.g. :class:`~xray_anomalib.callbacks.ExponentialWeightAveraging`).
    """

    name: str
    init_args: dict[str, Any] = field(default_factory=dict)
    scores: list[str] = field(default_factory=list)
    max_epochs: int = 1
    label: str = ""
    image_size: int | None = None
    kept_by: str = KeptBy.IMAGE_AUROC.value
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Refuse a ``kept_by`` the checkpoint cannot monitor (the error lists those it can)."""
        KeptBy(self.kept_by)

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

    def image_size_of(self, model: ModelConfig) -> int:
        """A model's input size: its own, else the data's, else the datamodules' default."""
        return model.image_size or self.data.get("image_size", DEFAULT_IMAGE_SIZE)

    @classmethod
    def from_yaml(cls, path: str | Path) -> BenchmarkConfig:
        """Read a benchmark YAML file and check all of it before any run: keys, types, models and their arguments.

        Raises:
            ConfigFileError: When the file is missing, a folder or not valid YAML.
            BenchmarkConfigError: One line naming the file, the key and the problem.
        """
        path = Path(path)
        raw = read_yaml(path, example="configs/benchmark/quick.yaml")
        try:
            return cls._checked(raw)
        except (BenchmarkConfigError, ConfigValueError) as error:
            msg = f"{path}: {str(error).rstrip('.')}."
            raise BenchmarkConfigError(msg) from error

    @classmethod
    def _checked(cls, raw: Any) -> BenchmarkConfig:
        """The config of a parsed YAML mapping, every key checked."""
        config = _build(cls, raw, "")
        variants = [_build(VariantConfig, item, f"variants[{i}]") for i, item in enumerate(config.variants)]
        models = [_build(ModelConfig, item, f"models[{i}]") for i, item in enumerate(config.models)]
        if not variants or not models or not config.seeds:
            msg = "variants, models and seeds must each list at least one entry"
            raise BenchmarkConfigError(msg)
        labels = [model.display for model in models]
        if len(set(labels)) != len(labels):
            msg = f"model labels must be unique; got {labels} (set label: to tell entries apart)"
            raise BenchmarkConfigError(msg)
        _check_data(config.data)
        for index, model in enumerate(models):
            earlier = {before.display: before.name for before in models[:index]}
            _check_model(model, config.image_size_of(model), earlier, f"models[{index}]")
        return cls(config.name, Path(config.output), dict(config.data), variants, models, list(config.seeds))

"""The model registry: our plugins (found through entry points) next to anomalib's baselines.

A plugin is any class deriving from :class:`anomalib.models.AnomalibModule`, declared by an installed
distribution under the ``xray_anomalib.models`` entry-point group::

    [project.entry-points."xray_anomalib.models"]
    my_model = "my_package.my_model:MyModel"

The core never imports a plugin by name. anomalib's ``get_model()`` only accepts classes inside
``anomalib.models``; this registry is what the toolkit uses instead.

Example:
    >>> [spec.name for spec in list_models()]  # doctest: +SKIP
    ['cae', 'padim', 'patchcore']
    >>> model = build_model("cae", image_size=128)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from xray_anomalib.utils.class_path import class_docstring, import_class

if TYPE_CHECKING:
    from anomalib.models import AnomalibModule

ENTRY_POINT_GROUP = "xray_anomalib.models"
BASELINES = {
    "dfm": "xray_anomalib.models.baselines.Dfm",
    "draem": "xray_anomalib.models.baselines.Draem",
    "fastflow": "xray_anomalib.models.baselines.Fastflow",
    "padim": "xray_anomalib.models.baselines.Padim",
    "patchcore": "xray_anomalib.models.baselines.Patchcore",
    "reverse_distillation": "xray_anomalib.models.baselines.ReverseDistillation",
    "stfpm": "xray_anomalib.models.baselines.Stfpm",
    "supersimplenet": "xray_anomalib.models.baselines.Supersimplenet",
}


class UnknownModelError(KeyError):
    """Raised when no registered model has the requested name."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, class path and where it comes from.

    Attributes:
        name: Registry name (lower case), e.g. ``cae``.
        class_path: ``module.Class``, usable as ``model.class_path`` in anomalib YAML configs.
        source: ``anomalib`` for built-in baselines, else the distribution that declares the plugin.
    """

    name: str
    class_path: str
    source: str

    def load(self) -> type[AnomalibModule]:
        """Import and return the model class."""
        from anomalib.models import AnomalibModule

        model_class = import_class(self.class_path)
        if not (isinstance(model_class, type) and issubclass(model_class, AnomalibModule)):
            msg = f"Model {self.name!r} ({self.class_path}, from {self.source}) is not an anomalib AnomalibModule."
            raise TypeError(msg)
        return model_class

    @property
    def summary(self) -> str:
        """First line of the model class's docstring, read from its source (imported only where that fails)."""
        doc = class_docstring(self.class_path) or self.load().__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


def list_models() -> list[ModelSpec]:
    """All registered models, plugins and baselines, sorted by name.

    Raises:
        ValueError: When two plugins claim the same name, or a plugin takes a baseline's name.
    """
    specs = {name: ModelSpec(name, path, "anomalib") for name, path in BASELINES.items()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        name = entry.name.lower()
        source = entry.dist.name if entry.dist is not None else "unknown distribution"
        if name in specs:
            msg = f"Model name {name!r} is registered twice: by {specs[name].source} and by {source}."
            raise ValueError(msg)
        specs[name] = ModelSpec(name, entry.value.replace(":", "."), source)
    return [specs[name] for name in sorted(specs)]


def get_model_spec(name: str) -> ModelSpec:
    """Look a model up by its registry name (case-insensitive).

    Raises:
        UnknownModelError: Naming the models that are registered.
    """
    specs = {spec.name: spec for spec in list_models()}
    if name.lower() not in specs:
        msg = f"Unknown model {name!r}; registered models: {', '.join(specs)}."
        raise UnknownModelError(msg)
    return specs[name.lower()]


def build_model(name: str, **init_args: Any) -> AnomalibModule:
    """Instantiate a registered model with ``init_args``."""
    return get_model_spec(name).load()(**init_args)

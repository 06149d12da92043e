"""What a trained model needs to score a new film exactly as it saw its training films.

The offline preprocessing (variant, hand splitting), the online film transform (equalisation), the letterbox
size and the model's normalised thresholds are captured from the datamodule when the model is fitted, saved in
every checkpoint and written beside every OpenVINO export as ``xray_deployment.json``. The predictor reads them
from there, so a user cannot score films with other settings than the model was trained with.

Example:
    >>> settings = DeploymentSettings.read("results/Cae/synthetic_mura/xr_hand/latest/weights/openvino")
    >>> crops, record = settings.pipeline()(film)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xray_anomalib.film_pipeline.pipeline import OfflinePipeline, PreprocessingSettings, Variant
from xray_anomalib.post_processing.operating_point import F1_ADAPTIVE
from xray_anomalib.utils.atomic import write_text_atomic
from xray_anomalib.utils.class_path import class_path_of, import_class
from xray_anomalib.utils.mixin_base import ModuleMixinBase

if TYPE_CHECKING:
    from torchvision.transforms.v2 import Transform

logger = logging.getLogger(__name__)

SETTINGS_FILE = "xray_deployment.json"
CHECKPOINT_KEY = "xray_deployment"
FORMAT_VERSION = 1


class DeploymentError(ValueError):
    """Raised when a model cannot be deployed as asked; the message says what is missing or wrong."""


@dataclass(frozen=True)
class DeploymentSettings:
    """How films are prepared for a trained model, and how its scores are read.

    Attributes:
        model_class: Import path of the Lightning module (to rebuild it from a checkpoint).
        image_size: Side of the square the film (or hand crop) is letterboxed to.
        preprocessing: The offline pipeline's settings; ``None`` when films were used as they are.
        film_transform: ``{"class_path", "init_args"}`` of the online film transform, or ``None``.
        hand_mask_source: ``pipeline`` (the segmentation), ``files`` (masks read beside the films; new films have
            none, so the whole film counts) or ``none``.
        takes_hand_mask: Whether the model (and its export) takes a hand mask input.
        image_threshold: The normalised image threshold: a film is anomalous when its score is above it.
        pixel_threshold: The normalised pixel threshold of the anomaly map.
        threshold_policy: How the image threshold was chosen (anomalib's F1-adaptive one, or an operating point
            of :class:`~xray_anomalib.post_processing.OperatingPointPostProcessor`).
        version: Format version of these settings.
    """

    model_class: str
    image_size: int
    preprocessing: PreprocessingSettings | None = None
    film_transform: dict[str, Any] | None = None
    hand_mask_source: str = "none"
    takes_hand_mask: bool = False
    image_threshold: float = 0.5
    pixel_threshold: float = 0.5
    threshold_policy: str = F1_ADAPTIVE
    version: int = field(default=FORMAT_VERSION)

    def pipeline(self) -> OfflinePipeline:
        """The offline pipeline the model's films went through (the raw variant when there was none).

        It gives no body masks: they serve evaluation, and a new film is scored, not evaluated.
        """
        return OfflinePipeline(self.preprocessing or PreprocessingSettings(variant=Variant.RAW), body_masks=False)

    def build_film_transform(self) -> Transform | None:
        """Rebuild the online film transform."""
        return None if self.film_transform is None else build_transform(self.film_transform)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and checkpoints."""
        data = asdict(self)
        if self.preprocessing is not None:
            data["preprocessing"] = self.preprocessing.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "settings") -> DeploymentSettings:
        """Rebuild settings written by :meth:`to_dict`; ``source`` names the file in error messages."""
        version = data.get("version")
        if version != FORMAT_VERSION:
            msg = f"{source}: deployment settings of version {version}; this xray-anomalib reads {FORMAT_VERSION}."
            raise DeploymentError(msg)
        known = set(cls.__dataclass_fields__)
        if unknown := set(data) - known:
            msg = f"{source}: unknown deployment settings {sorted(unknown)}; expected some of {sorted(known)}."
            raise DeploymentError(msg)
        if (preprocessing := data.get("preprocessing")) is not None:
            data = data | {"preprocessing": PreprocessingSettings(**preprocessing)}
        return cls(**data)

    def write(self, folder: str | Path) -> Path:
        """Write ``xray_deployment.json`` into ``folder``."""
        return write_text_atomic(Path(folder) / SETTINGS_FILE, json.dumps(self.to_dict(), indent=2))

    @classmethod
    def read(cls, folder: str | Path) -> DeploymentSettings:
        """Read the settings beside an exported model.

        Raises:
            DeploymentError: When the folder has no settings file or it cannot be parsed.
        """
        path = Path(folder) / SETTINGS_FILE
        if not path.is_file():
            msg = (
                f"{folder} holds no {SETTINGS_FILE}: the preprocessing the model was trained with is unknown. "
                "Export the model again from its checkpoint with `anomalib export` (xray-anomalib writes the "
                "settings beside every export of a model it trained)."
            )
            raise DeploymentError(msg)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            msg = f"{path} is not valid JSON: {error}"
            raise DeploymentError(msg) from error
        return cls.from_dict(data, source=str(path))


def transform_config(transform: Transform) -> dict[str, Any]:
    """``{"class_path", "init_args"}`` of a transform, read back from the attributes its arguments are kept in.

    Nested transforms (``v2.Compose``) are described recursively.

    Raises:
        DeploymentError: When an argument is not kept as an attribute of the same name.
    """
    cls = type(transform)
    init_args = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or parameter.kind in {parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD}:
            continue
        if not hasattr(transform, name):
            msg = f"Cannot record film_transform {cls.__name__} for deployment: argument {name!r} is not kept."
            raise DeploymentError(msg)
        init_args[name] = _plain(getattr(transform, name))
    return {"class_path": class_path_of(transform), "init_args": init_args}


def build_transform(config: dict[str, Any]) -> Transform:
    """Rebuild a transform described by :func:`transform_config`."""
    cls = import_class(config["class_path"])
    init_args = {name: _rebuild(value) for name, value in config.get("init_args", {}).items()}
    return cls(**init_args)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if callable(getattr(value, "transform", None)) or callable(getattr(value, "forward", None)):
        return transform_config(value)
    msg = f"Cannot record {value!r} of a film_transform for deployment (not plain data or a transform)."
    raise DeploymentError(msg)


def _rebuild(value: Any) -> Any:
    if isinstance(value, dict) and "class_path" in value:
        return build_transform(value)
    if isinstance(value, list):
        return [_rebuild(item) for item in value]
    return value


def settings_from_datamodule(datamodule: Any, model: Any, takes_hand_mask: bool) -> DeploymentSettings:
    """The settings of ``model`` trained on ``datamodule`` (thresholds are filled in at export)."""
    from xray_anomalib.data import XrayDataModule

    model_class = class_path_of(model)
    if not isinstance(datamodule, XrayDataModule):
        size = getattr(model, "input_size", None) or (256, 256)
        return DeploymentSettings(model_class, int(size[0]), takes_hand_mask=takes_hand_mask)
    film_transform = None if datamodule.film_transform is None else transform_config(datamodule.film_transform)
    if datamodule.preprocessing is not None:
        source = "pipeline" if datamodule.preprocessing.variant is Variant.FULL else "none"
    else:
        source = "files" if datamodule.hand_mask_dir else "none"
    return DeploymentSettings(
        model_class,
        datamodule.image_size,
        preprocessing=datamodule.preprocessing,
        film_transform=film_transform,
        hand_mask_source=source,
        takes_hand_mask=takes_hand_mask,
    )


class DeployableMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule``: capture the deployment settings at fit, keep them in checkpoints and exports.

    Attributes:
        takes_hand_mask: Whether the module's forward and export take a hand mask.
    """

    takes_hand_mask: bool = False
    deployment: DeploymentSettings | None = None

    def on_fit_start(self) -> None:
        """Record how the datamodule prepares films."""
        super().on_fit_start()
        datamodule = getattr(self.trainer, "datamodule", None)
        self.deployment = settings_from_datamodule(datamodule, self, self.takes_hand_mask)

    def deployment_settings(self) -> DeploymentSettings | None:
        """The settings with the post-processor's current normalised thresholds."""
        if self.deployment is None:
            return None
        post = getattr(self, "post_processor", None)
        if post is None or not hasattr(post, "normalized_image_threshold"):
            return self.deployment
        return replace(
            self.deployment,
            image_threshold=float(post.normalized_image_threshold),
            pixel_threshold=float(post.normalized_pixel_threshold),
            threshold_policy=getattr(post, "threshold_policy", F1_ADAPTIVE),
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Save the deployment settings with the weights."""
        super().on_save_checkpoint(checkpoint)
        settings = self.deployment_settings()
        if settings is not None:
            checkpoint[CHECKPOINT_KEY] = settings.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the deployment settings (checkpoints of older versions have none)."""
        super().on_load_checkpoint(checkpoint)
        data = checkpoint.get(CHECKPOINT_KEY)
        self.deployment = None if data is None else DeploymentSettings.from_dict(data, source="checkpoint")

    def to_openvino(self, export_root: Path | str, *args: Any, **kwargs: Any) -> Path:
        """Export to OpenVINO and write the deployment settings beside the graph."""
        path = super().to_openvino(export_root, *args, **kwargs)
        settings = self.deployment_settings()
        if settings is None:
            logger.warning(
                "%s: no deployment settings (the model was not fitted by xray-anomalib); "
                "xray-anomalib predict will refuse this export.",
                path,
            )
        else:
            settings.write(path.parent)
        return path

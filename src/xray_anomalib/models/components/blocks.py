"""Convolution blocks shared by the paper's models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn
from torch.nn.utils import parametrize


def conv_block(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """Convolution, BatchNorm and ReLU; ``kernel_size=4, stride=2`` halves the resolution.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: 3 (keeps size with stride 1) or 4 (halves it with stride 2).
        stride: 1 or 2.
    """
    padding = (kernel_size - stride + 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Transposed convolution (kernel 4, stride 2: doubles the resolution), BatchNorm and ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def init_weights(module: nn.Module) -> None:
    """DCGAN-style initialisation (normal weights, unit BatchNorm), applied with ``model.apply(init_weights)``.

    Spectrally normalised layers get their unnormalised weight initialised (their ``weight`` is computed from it).
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        parametrized = parametrize.is_parametrized(module, "weight")
        weight = module.parametrizations.weight.original if parametrized else module.weight  # type: ignore[union-attr]
        nn.init.normal_(cast("torch.Tensor", weight), 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def conv_encoder(in_channels: int, channels: Sequence[int], out_channels: int) -> nn.Sequential:
    """Stages of a 3x3 block and a 4x4 stride-2 block (one halving each), then a 3x3 block to ``out_channels``."""
    layers: list[nn.Module] = []
    previous = in_channels
    for width in channels:
        layers += [conv_block(previous, width, 3, 1), conv_block(width, width, 4, 2)]
        previous = width
    layers.append(conv_block(previous, out_channels, 3, 1))
    return nn.Sequential(*layers)


def conv_decoder(in_channels: int, channels: Sequence[int]) -> nn.Sequential:
    """Transposed-conv stages mirroring :func:`conv_encoder` back to full size, ending in one Tanh channel."""
    layers: list[nn.Module] = []
    previous = in_channels
    for width in reversed(channels):
        layers.append(up_block(previous, width))
        previous = width
    layers += [nn.Conv2d(previous, 1, 3, padding=1), nn.Tanh()]
    return nn.Sequential(*layers)


def to_model_range(image: torch.Tensor) -> torch.Tensor:
    """Gray film in ``[-1, 1]`` (the range of a Tanh decoder) from a ``(B, C, H, W)`` image in ``[0, 1]``."""
    return image.mean(dim=1, keepdim=True) * 2.0 - 1.0

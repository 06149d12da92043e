"""Convolution blocks shared by the paper's models."""

from __future__ import annotations

from torch import nn


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
    """DCGAN-style initialisation (normal weights, unit BatchNorm), applied with ``model.apply(init_weights)``."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)

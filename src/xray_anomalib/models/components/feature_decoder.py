"""A one-class bottleneck and a mirrored decoder for any CNN's feature stages (Reverse Distillation's student).

Reverse Distillation (Deng and Li, CVPR 2022) squeezes a frozen encoder's multi-scale features into one compact
embedding and trains a decoder to rebuild each stage from it; on an anomaly the rebuilt features drift from the
encoder's. anomalib's bottleneck and decoder mirror a ResNet layer for layer; these are built from the stages'
channels and strides alone, so any timm CNN (the packaged EfficientNet-Lite0, say) can be the encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from xray_anomalib.models.components.blocks import conv_block, up_block


def halvings(from_stride: int, to_stride: int) -> int:
    """How many halvings of the resolution lead from ``from_stride`` to the coarser ``to_stride`` (powers of two)."""
    ratio = to_stride // from_stride
    if ratio < 1 or ratio * from_stride != to_stride or ratio & (ratio - 1):
        msg = f"stride {to_stride} is not a power-of-two multiple of stride {from_stride}"
        raise ValueError(msg)
    return ratio.bit_length() - 1


def embedding_stride(strides: Sequence[int]) -> int:
    """Stride of the bottleneck's embedding: twice the coarsest stage's."""
    return 2 * max(strides)


def check_divisible_size(input_size: Sequence[int], strides: Sequence[int], backbone: str) -> None:
    """Refuse an input whose sides the embedding's stride does not divide: rebuilt and encoded features would differ.

    Raises:
        ValueError: Naming the backbone, the size and the multiple it needs.
    """
    stride = embedding_stride(strides)
    if any(side % stride for side in input_size):
        height, width = input_size
        msg = (
            f"Reverse Distillation on {backbone} embeds its stages at stride {stride}: image_size must be a multiple "
            f"of {stride} px, got {height} x {width} px"
        )
        raise ValueError(msg)


def resampling_chain(
    block: Callable[[int, int], nn.Module], in_channels: int, out_channels: int, count: int
) -> list[nn.Module]:
    """``count`` blocks, each halving or doubling the size: the first from ``in_channels``, all to ``out_channels``."""
    return [block(in_channels if step == 0 else out_channels, out_channels) for step in range(count)]


class OneClassBottleneck(nn.Module):
    """Fuses the encoder's stages into one embedding at twice the coarsest stage's stride.

    Each stage is brought down to the embedding's stride by 4x4 stride-2 convolutions, the stages are concatenated
    and mixed by a 1x1 and two 3x3 convolutions: what survives is what all stages of normal films share.

    Args:
        channels: Channels of the encoder's stages, finest first.
        strides: Strides of the encoder's stages, finest first.
        embedding_channels: Channels of the embedding.
    """

    def __init__(self, channels: Sequence[int], strides: Sequence[int], embedding_channels: int) -> None:
        super().__init__()
        halve, coarsest = partial(conv_block, kernel_size=4, stride=2), embedding_stride(strides)
        self.paths = nn.ModuleList(
            nn.Sequential(*resampling_chain(halve, stage_channels, embedding_channels, halvings(stride, coarsest)))
            for stage_channels, stride in zip(channels, strides, strict=True)
        )
        self.fuse = nn.Sequential(
            conv_block(len(channels) * embedding_channels, embedding_channels, 1),
            conv_block(embedding_channels, embedding_channels),
            conv_block(embedding_channels, embedding_channels),
        )

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The embedding of the stages' features (finest first)."""
        return self.fuse(torch.cat([path(stage) for path, stage in zip(self.paths, features, strict=True)], dim=1))


class MirrorDecoder(nn.Module):
    """Rebuilds each encoder stage from the bottleneck's embedding, coarsest stage first.

    Between stages the hidden features are doubled in size by transposed convolutions and refined by a 3x3 block;
    a 3x3 convolution without activation then gives the stage's features (encoder stages may be negative).

    Args:
        channels: Channels of the encoder's stages, finest first.
        strides: Strides of the encoder's stages, finest first.
        embedding_channels: Channels of the bottleneck's embedding.
    """

    def __init__(self, channels: Sequence[int], strides: Sequence[int], embedding_channels: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        self.outputs = nn.ModuleList()
        previous_channels, previous_stride = embedding_channels, embedding_stride(strides)
        for stage_channels, stride in zip(channels[::-1], strides[::-1], strict=True):
            width = 2 * stage_channels
            ups = resampling_chain(up_block, previous_channels, width, halvings(stride, previous_stride))
            self.stages.append(nn.Sequential(*ups, conv_block(width, width)))
            self.outputs.append(nn.Conv2d(width, stage_channels, 3, padding=1))
            previous_channels, previous_stride = width, stride

    def forward(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        """The rebuilt features of every stage, finest first (the encoder's order)."""
        hidden = embedding
        rebuilt = []
        for stage, output in zip(self.stages, self.outputs, strict=True):
            hidden = stage(hidden)
            rebuilt.append(output(hidden))
        return rebuilt[::-1]

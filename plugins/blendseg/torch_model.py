"""PyTorch model of BlendSeg: a U-Net that segments what does not belong to the film."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from xray_anomalib.models.components import Score, conv_block, masked_mean, to_model_range
from xray_anomalib.models.components.scoring import ScoreMap, ScoringModel

SCORES = (Score.SEGMENTATION, Score.SEGMENTATION_MEAN)


class UNet(nn.Module):
    """A U-Net from scratch at half the film's resolution, its logits upsampled back to the film.

    A stride-2 stem halves the film (a full-resolution stage would cost four times as much on a CPU); each stage
    is two 3x3 conv blocks, max-pool down, bilinear up with skip connections.

    Args:
        channels: Channels of each stage, finest first; ``len(channels)`` halvings of the resolution.
    """

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        if len(channels) < 2:
            msg = f"A U-Net needs at least two stages; got channels {list(channels)}."
            raise ValueError(msg)
        self.stem = conv_block(1, channels[0], kernel_size=4, stride=2)
        self.down = nn.ModuleList(
            _double_block(a, b) for a, b in zip([channels[0], *channels[:-1]], channels, strict=True)
        )
        self.up = nn.ModuleList(
            _double_block(deep + skip, skip) for deep, skip in zip(channels[:0:-1], channels[-2::-1], strict=True)
        )
        self.head = nn.Conv2d(channels[0], 1, kernel_size=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` logits of a ``(B, 1, H, W)`` input."""
        skips = []
        features = self.stem(image)
        for index, stage in enumerate(self.down):
            features = stage(features if index == 0 else F.max_pool2d(features, 2))
            skips.append(features)
        for stage, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            upsampled = F.interpolate(features, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            features = stage(torch.cat([upsampled, skip], dim=1))
        return F.interpolate(self.head(features), size=image.shape[-2:], mode="bilinear", align_corners=False)


def _double_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(conv_block(in_channels, out_channels), conv_block(out_channels, out_channels))


class BlendSegModel(ScoringModel):
    """Segments anomalies: the map is the U-Net's probability that a pixel does not belong to the film.

    Scores: ``segmentation`` (mean of the ``top_k`` most anomalous body pixels, the main score) and
    ``segmentation_mean`` (mean over the body).

    Args:
        channels: U-Net stage channels, finest first.
        top_k: Pixels averaged by the ``segmentation`` score.
        **selection: ``score``, ``combine`` and ``combine_method`` of
            :class:`~xray_anomalib.models.components.scoring.ScoringModel`.
    """

    def __init__(self, channels: Sequence[int] = (8, 16, 32, 64, 128), top_k: int = 100, **selection: Any) -> None:
        super().__init__(SCORES, **selection)
        self.top_k = top_k
        self.unet = UNet(channels)  # PyTorch's default initialisation

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` anomaly logits of ``(B, C, H, W)`` films in ``[0, 1]``."""
        return self.unet(to_model_range(image))

    def loss(self, image: torch.Tensor, labels: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Binary cross-entropy plus soft Dice over the body pixels; ``loss`` is their sum.

        Args:
            image: ``(B, C, H, W)`` films in ``[0, 1]``, some with blended patches.
            labels: ``(B, 1, H, W)`` 0/1, where a patch changed the film.
            hand_mask: ``(B, 1, H, W)`` body mask: the pixels that count.
        """
        logits = self.logits(image)
        cross_entropy = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        bce = masked_mean(cross_entropy, hand_mask).mean()
        probability = torch.sigmoid(logits) * hand_mask
        target = labels * hand_mask
        overlap = (probability * target).sum()
        dice = 1.0 - (2.0 * overlap + 1.0) / (probability.sum() + target.sum() + 1.0)
        return {"loss": bce + dice, "bce": bce, "dice": dice}

    def score_maps(self, image: torch.Tensor, hand_mask: torch.Tensor) -> dict[str, ScoreMap]:
        """The anomaly probability over the body, with its top-k and mean scores."""
        anomaly_map = torch.sigmoid(self.logits(image)) * hand_mask
        k = min(self.top_k, anomaly_map[0].numel())
        return {
            Score.SEGMENTATION.value: (anomaly_map.flatten(1).topk(k, dim=1).values.mean(dim=1), anomaly_map),
            Score.SEGMENTATION_MEAN.value: (masked_mean(anomaly_map, hand_mask), anomaly_map),
        }

"""The bottleneck and decoder built from a CNN's stages: shapes, and strides they cannot mirror."""

import pytest
import torch

from xray_anomalib.models.components.feature_decoder import MirrorDecoder, OneClassBottleneck, halvings


def test_the_decoder_rebuilds_every_stage_at_its_size_from_one_coarse_embedding() -> None:
    channels, strides = [8, 16, 32], [2, 4, 16]  # a stage may skip a stride
    bottleneck = OneClassBottleneck(channels, strides, embedding_channels=24)
    decoder = MirrorDecoder(channels, strides, embedding_channels=24)
    embedding = bottleneck(
        [torch.rand(2, width, 64 // stride, 64 // stride) for width, stride in zip(channels, strides, strict=True)]
    )
    assert embedding.shape == (2, 24, 2, 2)
    assert [tuple(feature.shape) for feature in decoder(embedding)] == [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 4, 4)]


@pytest.mark.parametrize(("finer", "coarser"), [(4, 12), (8, 4)])
def test_strides_that_are_not_doublings_are_refused(finer: int, coarser: int) -> None:
    with pytest.raises(ValueError, match=f"stride {coarser} is not a power-of-two multiple of stride {finer}"):
        halvings(finer, coarser)

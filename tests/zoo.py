"""Tiny torch models of every X-ray plugin, for tests that must hold for all of them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from xray_anomalib_plugins.alphagan.torch_model import SCORES as ALPHAGAN_SCORES
from xray_anomalib_plugins.alphagan.torch_model import AlphaGanModel
from xray_anomalib_plugins.bigan.torch_model import SCORES as BIGAN_SCORES
from xray_anomalib_plugins.bigan.torch_model import BiganModel
from xray_anomalib_plugins.blendseg.torch_model import SCORES as BLENDSEG_SCORES
from xray_anomalib_plugins.blendseg.torch_model import BlendSegModel
from xray_anomalib_plugins.cae.torch_model import CaeModel
from xray_anomalib_plugins.dcgan.torch_model import DcganModel
from xray_anomalib_plugins.vae.torch_model import SCORES as VAE_SCORES
from xray_anomalib_plugins.vae.torch_model import VaeModel

from xray_anomalib.models.components import RECONSTRUCTION_SCORES
from xray_anomalib.models.components.scoring import ScoringModel

SIZE = 32
GAN = {"channels": [8, 16], "discriminator_channels": [8, 16], "image_size": SIZE}
FACTORIES: dict[str, tuple[Callable[..., ScoringModel], list[str]]] = {
    "cae": (
        lambda **kw: CaeModel(channels=[8, 16], bottleneck_channels=16, top_k=20, **kw),
        list(RECONSTRUCTION_SCORES),
    ),
    "vae": (lambda **kw: VaeModel(channels=[8, 16], latent_channels=4, top_k=20, **kw), list(VAE_SCORES)),
    "dcgan": (lambda **kw: DcganModel(latent_dim=8, **GAN, **kw), ["discriminator"]),
    "bigan": (lambda **kw: BiganModel(latent_dim=8, top_k=20, **GAN, **kw), list(BIGAN_SCORES)),
    "alphagan": (lambda **kw: AlphaGanModel(latent_dim=8, top_k=20, **GAN, **kw), list(ALPHAGAN_SCORES)),
    "blendseg": (lambda **kw: BlendSegModel(channels=[4, 8], top_k=20, **kw), list(BLENDSEG_SCORES)),
}
MODEL_SCORES = [
    (name, str(getattr(score, "value", score))) for name, (_, scores) in FACTORIES.items() for score in scores
]


def tiny_model(name: str, **kwargs: object) -> ScoringModel:
    """A seeded tiny model in evaluation mode; ``score`` is passed except for the single-score DCGAN."""
    torch.manual_seed(0)
    if name == "dcgan":
        kwargs.pop("score", None)
    return FACTORIES[name][0](**kwargs).eval()


def films_and_masks(count: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Random gray films and hand masks that differ from film to film."""
    generator = torch.Generator().manual_seed(1)
    films = torch.rand(count, 1, SIZE, SIZE, generator=generator).expand(count, 3, SIZE, SIZE)
    masks = torch.zeros(count, 1, SIZE, SIZE)
    for index in range(count):
        masks[index, :, 4 + index : 28, 6 : 26 - index] = 1
    return films, masks

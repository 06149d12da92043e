"""A model's seed fixes its initial weights and its fit, and leaves the caller's random state alone."""

import random

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningModule

from xray_anomalib.models.components.seeding import SeededMixin
from xray_anomalib.registry import build_model

TINY_CAE = {"image_size": 64, "channels": [8, 16, 32], "bottleneck_channels": 32}


def _weights(seed: int) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in build_model("cae", seed=seed, **TINY_CAE).parameters()]


def test_building_a_model_leaves_the_global_random_state_alone() -> None:
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    build_model("cae", seed=0, **TINY_CAE)  # also what loading a checkpoint does
    torch.testing.assert_close(torch.rand(3), expected[0])
    assert (random.random(), np.random.rand()) == expected[1:]


def test_the_seed_fixes_the_initial_weights() -> None:
    first, again, other = _weights(0), _weights(0), _weights(1)
    for one, two in zip(first, again, strict=True):
        torch.testing.assert_close(one, two)
    assert any(not torch.equal(one, two) for one, two in zip(first, other, strict=True))


def test_the_fit_is_seeded_when_it_starts() -> None:
    class Probe(SeededMixin, LightningModule):
        seed = 5

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(999)
    Probe().on_fit_start()
    torch.testing.assert_close(torch.rand(4), expected)


def test_hyperparameters_are_the_concrete_class_arguments() -> None:
    model = build_model("cae", seed=7, **TINY_CAE)
    assert model.hparams["seed"] == 7
    assert model.hparams["channels"] == [8, 16, 32]
    assert not {"depth", "pre_processor", "evaluator"} & set(model.hparams)


TINY_GAN = {"image_size": 32, "channels": [8, 16], "discriminator_channels": [8, 16], "latent_dim": 8}
TINY_PLUGINS = {
    "cae": {**TINY_CAE, "score": "topk", "mask_margin": 2},
    "vae": {"image_size": 32, "channels": [8, 16], "latent_channels": 4, "score": "kld"},
    "dcgan": TINY_GAN,
    "bigan": {**TINY_GAN, "score": "combined", "combine": ["discriminator", "topk"], "top_k": 20},
    "alphagan": {**TINY_GAN, "code_hidden": [8], "lr_code_discriminator": 1e-3, "beta1": 0.9},
    "blendseg": {"image_size": 32, "channels": [4, 8], "top_k": 20, "combine_method": "zscore"},
}


@pytest.mark.parametrize("name", TINY_PLUGINS)
def test_a_plugin_rebuilds_from_its_saved_hyperparameters(name: str) -> None:
    """What loading a checkpoint or starting a DDP process does: the class called with its hyperparameters."""
    model = build_model(name, **TINY_PLUGINS[name])
    rebuilt = type(model)(**model.hparams)
    assert dict(rebuilt.hparams) == dict(model.hparams)
    assert {key: model.hparams[key] for key in TINY_PLUGINS[name]} == TINY_PLUGINS[name]
    assert model.model.score == rebuilt.model.score
    for (key, one), (_, two) in zip(model.model.state_dict().items(), rebuilt.model.state_dict().items(), strict=True):
        assert torch.equal(one, two), key

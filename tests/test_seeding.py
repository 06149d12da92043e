"""A model's seed fixes its initial weights and its fit, and leaves the caller's random state alone."""

import random

import numpy as np
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

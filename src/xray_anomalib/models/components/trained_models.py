"""Models built from other trained models (an ensemble of its members): what a benchmark grid trains first.

In a grid such a model names earlier entries of the grid by their labels. The model's class says which entries
its arguments name (:meth:`BuiltFromTrainedModels.trained_model_labels`) and how their trained runs enter its
arguments (:meth:`BuiltFromTrainedModels.with_trained_models`), so the benchmark trains them first and hands their
checkpoints over without knowing the model's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class TrainedModel:
    """A trained run of a grid entry.

    Attributes:
        name: The registry name of its model.
        checkpoint: The checkpoint its training kept.
    """

    name: str
    checkpoint: Path


@runtime_checkable
class BuiltFromTrainedModels(Protocol):
    """A model class whose arguments name other trained models (see the module docstring)."""

    @classmethod
    def trained_model_labels(cls, init_args: Mapping[str, Any]) -> list[str]:
        """The labels of the grid entries that ``init_args`` (as a grid gives them) name.

        Raises:
            ValueError: Where the arguments do not name them as the model needs; the message starts with the
                argument's name (``members: ...``).
        """
        ...

    @classmethod
    def with_trained_models(cls, init_args: Mapping[str, Any], trained: Sequence[TrainedModel]) -> dict[str, Any]:
        """``init_args`` with the labels replaced by their trained runs (``trained`` in the order of the labels)."""
        ...

"""One image size for films and model: the datamodule's letterbox and the model's input must agree.

Configs name the size twice (``data.init_args.image_size`` and ``model.init_args.image_size``); a mismatch would
end deep inside a batch in a bare reshape error, so the module checks it when a trainer sets it up.
"""

from __future__ import annotations

from typing import Any

from xray_anomalib.utils.mixin_base import ModuleMixinBase


class InputSizeError(ValueError):
    """Raised when the datamodule's films and the model's input differ in size; the message names both keys."""


def check_input_size(model: Any, datamodule: Any) -> None:
    """Raise :class:`InputSizeError` when ``datamodule`` letterboxes films to another size than ``model`` takes.

    Datamodules without an ``image_size`` (anomalib's own) and models without a fixed input size pass.
    """
    data_size = getattr(datamodule, "image_size", None)
    model_size = getattr(model, "input_size", None)
    if data_size is None or model_size is None:
        return
    if tuple(model_size) != (data_size, data_size):
        msg = (
            f"The datamodule letterboxes films to {data_size} px (data.init_args.image_size) but "
            f"{type(model).__name__} takes {model_size[0]} x {model_size[1]} px (model.init_args.image_size); "
            "set both to the same size."
        )
        raise InputSizeError(msg)


class InputSizeCheckMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule``: refuse, when set up, a datamodule whose films have another size."""

    def setup(self, stage: str) -> None:
        """Check the datamodule's image size against the model's input size."""
        super().setup(stage)
        check_input_size(self, getattr(self.trainer, "datamodule", None))

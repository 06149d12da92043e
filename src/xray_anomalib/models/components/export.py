"""Export at the model's own input size, so that ``anomalib export`` needs no shape arguments.

One place decides what an exported graph takes (the film, and the hand mask where the model takes it; a dynamic batch
or a batch of one) and feeds its INT8 post-training quantization the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from anomalib.deploy import ExportType
from anomalib.models.components.base.export_mixin.utils import create_export_root
from torch.utils.data import DataLoader

from xray_anomalib.models.components.batch_inputs import films_and_masks_of, films_of
from xray_anomalib.utils.mixin_base import ModuleMixinBase

if TYPE_CHECKING:
    import openvino as ov
    from anomalib.data import AnomalibDataModule, Batch
    from anomalib.models import AnomalibModule

EXPORT_INPUT_NAMES = ("input", "hand_mask")


def export_with_hand_mask(
    module: AnomalibModule,
    export_root: Path | str,
    model_file_name: str,
    size: tuple[int, int] | None,
    static_batch: bool,
    **kwargs: Any,
) -> Path:
    """Export ``module(input, hand_mask)`` to ONNX at ``size``: a dynamic batch, or a batch of one if ``static_batch``.

    Args:
        module: A module whose forward takes ``B x 3 x H x W`` films and ``B x 1 x H x W`` hand masks.
        export_root: Folder of the export (anomalib's layout: ``<root>/weights/onnx``).
        model_file_name: Name of the ``.onnx`` file, without suffix.
        size: ``(height, width)`` of the films.
        static_batch: Fix the batch to one film.
        **kwargs: Further arguments of :func:`torch.onnx.export`.

    Raises:
        ValueError: Without a size (the model has no pre-processor to take it from).
    """
    if size is None:
        msg = "Export needs an input size: this model has no pre-processor to take it from; pass input_size."
        raise ValueError(msg)
    height, width = size
    films = 1 if static_batch else 2
    image = torch.zeros(films, 3, height, width, device=module.device)
    hand_mask = torch.ones(films, 1, height, width, device=module.device)
    outputs = module.eval()(image, hand_mask)._asdict()
    output_names = [name for name, value in outputs.items() if value is not None]
    batch = torch.export.Dim("batch", min=1)
    path = create_export_root(export_root, ExportType.ONNX) / f"{model_file_name}.onnx"
    torch.onnx.export(
        module,
        (image, hand_mask),
        str(path),
        input_names=list(EXPORT_INPUT_NAMES),
        output_names=output_names,
        opset_version=kwargs.pop("opset_version", 18),
        dynamo=True,
        dynamic_shapes=None if static_batch else {"batch": {0: batch}, "hand_mask": {0: batch}},
        **kwargs,
    )
    return path


def quantize_on_validation_films(
    model: ov.Model, datamodule: AnomalibDataModule | None, hand_masks: bool, one_film_at_a_time: bool
) -> ov.Model:
    """INT8 post-training quantization of an exported graph, calibrated on the validation films.

    anomalib's calibration feeds the film alone, in the datamodule's batches, which a graph that also takes the hand
    mask or has a static batch of one refuses.

    Args:
        model: The exported OpenVINO graph: input ``input``, and ``hand_mask`` if ``hand_masks``.
        datamodule: The datamodule whose validation films calibrate the quantization.
        hand_masks: Feed the films' hand masks as the second input.
        one_film_at_a_time: Calibrate film by film, for a graph exported with a static batch of one.

    Raises:
        ValueError: Without a datamodule.
    """
    import nncf

    if datamodule is None:
        msg = "INT8_PTQ compression needs a datamodule whose validation films calibrate the quantization."
        raise ValueError(msg)
    datamodule.setup("fit")
    films = datamodule.val_dataloader()
    if one_film_at_a_time:
        films = DataLoader(films.dataset, batch_size=1, collate_fn=films.collate_fn)

    def inputs(batch: Batch) -> list:
        if not hand_masks:
            return [films_of(batch).numpy()]
        return [tensor.numpy() for tensor in films_and_masks_of(batch)]

    return nncf.quantize(model, nncf.Dataset(films, inputs))


class FixedSizeExportMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule`` to export ONNX/OpenVINO graphs at the pre-processor's output size.

    Attributes:
        static_batch: Also fix the batch size to one. PatchCore needs it: with a dynamic batch its exported
            graph is silently fixed to the batch size it was traced with.
    """

    static_batch: bool = False

    def to_onnx(  # type: ignore[override]  # anomalib's ExportMixin signature, not Lightning's
        self,
        export_root: Path | str,
        model_file_name: str = "model",
        input_size: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> Path:
        """Export to ONNX; ``input_size`` defaults to the pre-processor's output size.

        A model that takes the hand mask (``takes_hand_mask``) exports both inputs, as this toolkit's plugins do.
        """
        size = input_size or self.input_size
        if getattr(self, "takes_hand_mask", False):
            return export_with_hand_mask(self, export_root, model_file_name, size, self.static_batch, **kwargs)
        if self.static_batch:
            kwargs.setdefault("dynamic_shapes", None)
        kwargs.setdefault("opset_version", 18)
        return super().to_onnx(export_root, model_file_name, None if size is None else (size[0], size[1]), **kwargs)

    def _post_training_quantization_ov(  # type: ignore[override]  # a staticmethod in anomalib, called on the instance
        self, model: ov.Model, datamodule: AnomalibDataModule | None = None
    ) -> ov.Model:
        """INT8 post-training quantization on the validation films, fed as :meth:`to_onnx` exported the graph."""
        takes_hand_mask = getattr(self, "takes_hand_mask", False)
        return quantize_on_validation_films(model, datamodule, takes_hand_mask, self.static_batch)

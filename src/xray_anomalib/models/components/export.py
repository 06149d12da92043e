"""Export at the model's own input size, so that ``anomalib export`` needs no shape arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from xray_anomalib.utils.mixin_base import ModuleMixinBase


class FixedSizeExportMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule`` to export ONNX/OpenVINO graphs at the pre-processor's output size.

    Attributes:
        static_batch: Also fix the batch size to one. PatchCore needs it: with a dynamic batch its exported
            graph is silently fixed to the batch size it was traced with.
    """

    static_batch: ClassVar[bool] = False

    def to_onnx(  # type: ignore[override]  # anomalib's ExportMixin signature, not Lightning's
        self,
        export_root: Path | str,
        model_file_name: str = "model",
        input_size: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> Path:
        """Export to ONNX; ``input_size`` defaults to the pre-processor's output size."""
        if self.static_batch:
            kwargs.setdefault("dynamic_shapes", None)
        kwargs.setdefault("opset_version", 18)
        size = input_size or self.input_size
        return super().to_onnx(export_root, model_file_name, None if size is None else (size[0], size[1]), **kwargs)

"""Heatmap images of films whatever their encoding (16-bit, DICOM, cached crops).

anomalib's ``ImageVisualizer`` re-reads each film from its path with PIL, which clips 16-bit films to white and
cannot open DICOM. :class:`FilmVisualizer` draws the film the model saw (``item.image``) instead, and still
names the output after the film's path.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomalib.utils.path import generate_output_filename
from anomalib.visualization import ImageVisualizer
from anomalib.visualization.image.item_visualizer import visualize_image_item

from xray_anomalib.utils.mixin_base import ModuleMixinBase

if TYPE_CHECKING:
    from anomalib.data import ImageBatch
    from lightning.pytorch import LightningModule, Trainer


class FilmVisualizer(ImageVisualizer):
    """anomalib's image visualizer, drawing the model's input tensor rather than re-reading the file."""

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: ImageBatch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Save one heatmap image per film of the batch."""
        del pl_module, outputs, batch_idx, dataloader_idx
        if self.output_dir is None:
            self.output_dir = Path(trainer.default_root_dir) / "images"
        datamodule = getattr(trainer, "datamodule", None)
        for item in batch:
            image = visualize_image_item(
                replace(item, image_path=None),
                fields=self.fields,
                overlay_fields=self.overlay_fields,
                field_size=self.field_size,
                fields_config=self.fields_config,
                overlay_fields_config=self.overlay_fields_config,
                text_config=self.text_config,
            )
            if image is not None:
                filename = generate_output_filename(
                    input_path=item.image_path or "",
                    output_path=self.output_dir,
                    dataset_name=getattr(datamodule, "name", None),
                    category=getattr(datamodule, "category", None),
                )
                image.save(filename)


class FilmVisualizerMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule`` to make :class:`FilmVisualizer` its default visualizer."""

    @classmethod
    def configure_visualizer(cls) -> FilmVisualizer:
        """Heatmaps drawn from the model's input, so 16-bit and DICOM films show correctly."""
        return FilmVisualizer()

"""Heatmap images of films whatever their encoding (16-bit, DICOM, cached crops), on disk and in the loggers.

anomalib's ``ImageVisualizer`` re-reads each film from its path with PIL, which clips 16-bit films to white and
cannot open DICOM. :class:`FilmVisualizer` draws the film the model saw (``item.image``) instead, and still
names the output after the film's path. Every image logger of the trainer (anomalib's TensorBoard, MLflow, Comet
and W&B loggers) gets each image too, named ``test_heatmaps/<path under images>`` (e.g.
``test_heatmaps/patient00001/study1_positive/image1.png``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from anomalib.loggers.base import ImageLoggerBase
from anomalib.utils.path import generate_output_filename
from anomalib.visualization import ImageVisualizer
from anomalib.visualization.image.item_visualizer import visualize_image_item

from xray_anomalib.utils.mixin_base import ModuleMixinBase

if TYPE_CHECKING:
    from anomalib.data import ImageBatch
    from lightning.pytorch import LightningModule, Trainer


LOGGED_FOLDER = "test_heatmaps"
"""Prefix of the heatmap images' names in the loggers."""


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
                logged_name = f"{LOGGED_FOLDER}/{filename.relative_to(self.output_dir).as_posix()}"
                self._log_image(trainer, np.asarray(image), logged_name)

    @staticmethod
    def _log_image(trainer: Trainer, image: np.ndarray, name: str) -> None:
        """Hand an ``(H, W, 3)`` image to every image logger of the trainer."""
        for logger in trainer.loggers:
            if isinstance(logger, ImageLoggerBase):
                logger.add_image(image=image, name=name, global_step=trainer.global_step)


class FilmVisualizerMixin(ModuleMixinBase):
    """Mix into an ``AnomalibModule`` to make :class:`FilmVisualizer` its default visualizer."""

    @classmethod
    def configure_visualizer(cls) -> FilmVisualizer:
        """Heatmaps drawn from the model's input, so 16-bit and DICOM films show correctly."""
        return FilmVisualizer()

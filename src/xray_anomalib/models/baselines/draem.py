"""anomalib's DRAEM on X-ray films, offline: Perlin-noise anomalies when no texture folder is given."""

from __future__ import annotations

import tempfile
from pathlib import Path

from anomalib.metrics import Evaluator
from anomalib.models import Draem as AnomalibDraem
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer

from xray_anomalib.models.baselines.base import XrayBaselineMixin, resize_pre_processor
from xray_anomalib.models.components.seeding import seeded


class Draem(XrayBaselineMixin, AnomalibDraem):
    """anomalib's DRAEM: a reconstructive and a discriminative U-Net trained on synthetic anomalies, from scratch.

    anomalib blends textures of the DTD dataset into the training images and downloads DTD when its folder is
    missing. Here ``dtd_dir: null`` (the default) blends Perlin noise itself as the texture, with no folder and no
    download; a folder of images (DTD, or any textures) is used as given and must exist.

    Args:
        dtd_dir: Folder of texture images blended in as anomalies, or ``None`` for Perlin noise textures.
        enable_sspcab: Add the SSPCAB self-supervised attention block and its loss.
        sspcab_lambda: Weight of the SSPCAB loss.
        beta: Blend factor of the anomalies (a value, or a range drawn from).
        image_size: Side of the square input of the default pre-processor (anomalib's default: 256).
        pre_processor: Pre-processor, or ``True`` for the default (resize only: DRAEM refuses normalised input).
        post_processor: Post-processor, or ``True`` for anomalib's default.
        evaluator: Evaluator, or ``True`` for the X-ray evaluator (:func:`~xray_anomalib.metrics.xray_evaluator`).
        visualizer: Visualizer, or ``True`` for the film visualizer.
        seed: Seed of the initial weights and of the fit; the caller's random state is left as it was.

    Raises:
        FileNotFoundError: When ``dtd_dir`` is given and is not a folder (anomalib would download DTD there).
    """

    def __init__(
        self,
        dtd_dir: str | Path | None = None,
        enable_sspcab: bool = False,
        sspcab_lambda: float = 0.1,
        beta: float | tuple[float, float] = (0.1, 1.0),
        image_size: int | None = None,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
        seed: int | None = 0,
    ) -> None:
        if dtd_dir is not None and not Path(dtd_dir).is_dir():
            msg = f"DRAEM texture folder {dtd_dir} does not exist; give a folder of images, or dtd_dir: null."
            raise FileNotFoundError(msg)
        with seeded(seed), tempfile.TemporaryDirectory() as no_textures:
            super().__init__(
                dtd_dir=dtd_dir if dtd_dir is not None else no_textures,  # an empty folder: Perlin noise textures
                enable_sspcab=enable_sspcab,
                sspcab_lambda=sspcab_lambda,
                beta=beta,
                pre_processor=resize_pre_processor(pre_processor, image_size),
                post_processor=post_processor,
                evaluator=evaluator,
                visualizer=visualizer,
            )
        self.seed = seed

from pathlib import Path

import cv2
import numpy as np
import torch

from xray_anomalib.data import XrayBatch
from xray_anomalib.visualization.film_visualizer import FilmVisualizer


class _Trainer:
    def __init__(self, root: Path) -> None:
        self.default_root_dir = root
        self.datamodule = None
        self.loggers: list = []
        self.global_step = 0


def test_sixteen_bit_film_is_drawn_from_the_model_input(tmp_path: Path) -> None:
    film = (np.tile(np.linspace(0, 1, 32), (32, 1)) * 65535).astype(np.uint16)
    path = tmp_path / "films" / "film16.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), film)
    image = torch.from_numpy(film.astype(np.float32) / 65535).expand(1, 3, 32, 32).clone()
    batch = XrayBatch(
        image=image,
        gt_label=torch.tensor([0]),
        image_path=[str(path)],
        anomaly_map=torch.rand(1, 1, 32, 32),
        pred_score=torch.tensor([0.5]),
        pred_label=torch.tensor([0]),
        hand_mask=torch.ones(1, 32, 32, dtype=torch.bool),
    )
    FilmVisualizer(fields=["image"], overlay_fields=[]).on_test_batch_end(_Trainer(tmp_path), None, None, batch, 0)
    saved = cv2.imread(str(tmp_path / "images" / "films" / "film16.png"), cv2.IMREAD_GRAYSCALE)
    assert saved is not None
    assert saved.mean() < 200  # anomalib's own visualizer reads the file with PIL and clips it to white
    assert saved[:, :10].mean() < saved[:, -10:].mean()

"""The datamodule's image size and the model's input size are checked against each other before any batch."""

from pathlib import Path

import pytest
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.models.components.input_size import InputSizeError
from xray_anomalib.registry import build_model


@pytest.mark.parametrize("name", ["cae", "padim"])
def test_a_size_mismatch_is_refused_naming_both_keys(name: str, synthetic_root: Path, tmp_path: Path) -> None:
    tiny = {"cae": {"channels": [8, 16], "bottleneck_channels": 16}, "padim": {"pre_trained": False}}[name]
    model = build_model(name, image_size=64, **tiny)
    datamodule = Mura(root=synthetic_root, image_size=32, cache_dir=tmp_path / "cache")
    engine = Engine(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    with pytest.raises(InputSizeError, match=r"32 px \(data.init_args.image_size\).*64 x 64 px \(model.init_args"):
        engine.fit(model=model, datamodule=datamodule)

from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.models.baselines import Dfm, Padim, Patchcore
from xray_anomalib.models.components.backbone import BackboneWeightsError


@pytest.mark.parametrize("model_class", [Padim, Patchcore])
def test_local_backbone_weights_are_loaded(model_class: type, tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = timm.create_model("resnet18", pretrained=False)  # stands in for ImageNet weights saved offline
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    model = model_class(
        backbone="resnet18", pre_trained=False, backbone_weights=tmp_path / "resnet18.pth", image_size=64
    )
    extractor = model.model.feature_extractor.feature_extractor.state_dict()
    for key, value in extractor.items():
        assert torch.equal(value, reference.state_dict()[key]), key
    untouched = model_class(backbone="resnet18", pre_trained=False, image_size=64)
    assert not torch.equal(
        untouched.model.feature_extractor.feature_extractor.state_dict()["conv1.weight"], reference.conv1.weight
    )


def test_wrong_architecture_is_refused(tmp_path: Path) -> None:
    torch.save(timm.create_model("resnet34", pretrained=False).state_dict(), tmp_path / "resnet34.pth")
    with pytest.raises(BackboneWeightsError, match="do not fit the backbone"):
        Padim(backbone="resnet18", pre_trained=False, backbone_weights=tmp_path / "resnet34.pth")
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        Padim(backbone="resnet18", pre_trained=False, backbone_weights=tmp_path / "missing.pth")


@pytest.mark.slow
def test_dfm_scores_each_film_on_its_own(full_datamodule: Callable[..., Mura], tmp_path: Path) -> None:
    """A film's DFM score and map do not depend on the other films of its batch."""
    model = Dfm(image_size=64)
    datamodule = full_datamodule(image_size=64)
    Engine(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False).fit(model, datamodule)
    images = next(iter(datamodule.test_dataloader())).image[:4]
    model.eval()
    with torch.no_grad():
        together = model(images)
        alone = [model(images[index : index + 1]) for index in range(4)]
    torch.testing.assert_close(
        torch.cat([item.pred_score.reshape(-1) for item in alone]), together.pred_score.reshape(-1)
    )
    torch.testing.assert_close(torch.cat([item.anomaly_map for item in alone]), together.anomaly_map)

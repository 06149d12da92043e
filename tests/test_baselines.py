from pathlib import Path

import pytest
import timm
import torch

from xray_anomalib.models.baselines import Padim, Patchcore
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

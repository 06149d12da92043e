from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.models.baselines import Dfm, Padim, Patchcore, ReverseDistillation
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


def _peak_width(anomaly_map: torch.Tensor) -> int:
    """Pixels of the map's middle row above half its maximum."""
    row = anomaly_map.reshape(anomaly_map.shape[-2:])[anomaly_map.shape[-2] // 2]
    return int((row > row.max() / 2).sum())


def test_map_sigma_narrows_the_peak_of_a_single_hot_patch() -> None:
    patch_scores = torch.zeros(1, 1, 16, 16)
    patch_scores[..., 8, 8] = 1.0  # one anomalous patch
    widths = {}
    for sigma in (1, 4):
        model = Patchcore(backbone="resnet18", layers=["layer2"], pre_trained=False, map_sigma=sigma, image_size=64)
        widths[sigma] = _peak_width(model.model.anomaly_map_generator(patch_scores, (64, 64)))
    assert widths[1] < widths[4]
    distillation = ReverseDistillation(
        backbone="resnet18", pre_trained=False, anomaly_map_mode="multiply", map_sigma=1, image_size=64
    )
    generator = distillation.model.anomaly_map_generator
    assert generator.sigma == 1 and generator.mode == "multiply"
    assert distillation.hparams["map_sigma"] == 1  # saved with the checkpoint, restored on loading


@pytest.mark.parametrize("model_class", [Patchcore, ReverseDistillation])
@pytest.mark.parametrize("sigma", [0, 1.5, True])
def test_map_sigma_below_a_pixel_or_fractional_is_refused(model_class: type, sigma: object) -> None:
    with pytest.raises(ValueError, match=r"map_sigma must be a whole number of pixels, 1 or more"):
        model_class(backbone="resnet18", pre_trained=False, map_sigma=sigma, image_size=64)

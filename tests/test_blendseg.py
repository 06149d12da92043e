import pytest
import torch
from xray_anomalib_plugins.blendseg import BlendSeg
from xray_anomalib_plugins.blendseg.synthesis import PatchBlender
from xray_anomalib_plugins.blendseg.torch_model import BlendSegModel, UNet


def _films(count: int = 6, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Films striped at another angle and period each, on a body that fills the middle."""
    rows, columns = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    films = []
    for index in range(count):
        angle, period = index * torch.pi / count, 6.0 + 2 * index
        phase = (columns * torch.cos(torch.tensor(angle)) + rows * torch.sin(torch.tensor(angle))) / period
        films.append(0.5 + 0.3 * torch.sin(2 * torch.pi * phase))
    masks = torch.zeros(count, 1, size, size)
    masks[..., 8:56, 10:54] = 1
    return torch.stack(films).unsqueeze(1), masks


def test_blending_changes_only_the_labelled_pixels_of_chosen_films() -> None:
    films, masks = _films()
    blended, labels = PatchBlender(probability=1.0, size_range=(0.2, 0.3), label_threshold=0.02)(films, masks, seed=0)
    change = (blended - films).abs()
    assert set(labels.unique().tolist()) <= {0.0, 1.0}
    patched = labels.flatten(1).sum(dim=1) > 0
    assert patched.sum() >= 3  # a small blend into a similar film may change no pixel by the threshold
    assert (labels * (1 - masks)).sum() == 0  # the patches stay on the body
    assert (change[labels == 1] >= 0.02 - 1e-6).all()  # labelled pixels changed by at least the threshold
    assert (change[labels == 0] < 0.02).all()  # the rest kept within it
    assert torch.equal(PatchBlender()(films, masks, seed=3)[0], PatchBlender()(films, masks, seed=3)[0])  # seeded
    untouched, no_labels = PatchBlender(probability=0.0)(films, masks, seed=0)
    assert torch.equal(untouched, films) and no_labels.sum() == 0


def test_patches_land_on_the_body() -> None:
    films, _ = _films()
    masks = torch.zeros_like(films)
    masks[..., 34:58, 36:60] = 1  # a small body off the centre
    _, labels = PatchBlender(probability=1.0, size_range=(0.15, 0.25))(films, masks, seed=1)
    assert labels.sum() > 0
    inner = torch.zeros_like(masks)
    inner[..., 37:55, 39:57] = 1  # the body less its outline
    assert (labels * (1 - inner)).sum() == 0


def test_blender_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="size_range"):
        PatchBlender(size_range=(0.3, 0.1))
    with pytest.raises(ValueError, match="probability"):
        PatchBlender(probability=1.5)


def test_unet_keeps_the_film_size_and_maps_stay_on_the_body() -> None:
    films, masks = _films(count=3)
    assert UNet([4, 8, 16])(films).shape == (3, 1, 64, 64)
    torch.manual_seed(0)
    model = BlendSegModel(channels=[4, 8, 16], top_k=10).eval()
    with torch.no_grad():
        scored = model.score_maps(films.expand(3, 3, 64, 64), masks)
    score, anomaly_map = scored["segmentation"]
    assert score.shape == (3,) and anomaly_map.shape == (3, 1, 64, 64)
    assert anomaly_map[masks == 0].abs().max() == 0 and (anomaly_map[masks == 1] > 0).all()
    expected = anomaly_map.flatten(1).topk(10, dim=1).values.mean(dim=1)
    assert torch.allclose(score, expected)
    with pytest.raises(ValueError, match="two stages"):
        UNet([4])


def test_training_learns_to_segment_blended_patches() -> None:
    torch.manual_seed(0)
    model = BlendSeg(channels=[8, 16, 32], image_size=64, lr=3e-3, anomaly_probability=1.0, patch_size=(0.2, 0.35))
    films, masks = _films(count=8)
    optimizer = model.configure_optimizers()
    blender = model.blender
    for step in range(150):
        blended, labels = blender(films, masks, seed=step)
        loss = model.model.loss(blended, labels, masks)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    blended, labels = blender(films, masks, seed=1000)  # patches it has not seen
    with torch.no_grad():
        probability = model.model.score_maps(blended, masks)["segmentation"][1]
    inside, outside = probability[labels == 1].mean(), probability[(labels == 0) & (masks == 1)].mean()
    assert inside > 2 * outside, (inside, outside)


def test_image_size_must_fit_the_depth() -> None:
    with pytest.raises(ValueError, match="divisible"):
        BlendSeg(channels=[8, 16, 32], image_size=100)

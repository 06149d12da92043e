import pytest
import torch
from xray_anomalib_plugins.cae import Cae
from xray_anomalib_plugins.cae.torch_model import CaeModel

from xray_anomalib.models.components import Score, image_score, masked_reconstruction_loss
from xray_anomalib.models.components.error_maps import inner_mask, reconstruction_scores


def _model(score: str = "mse") -> CaeModel:
    torch.manual_seed(0)
    return CaeModel(channels=[8, 16], bottleneck_channels=16, score=score, top_k=20).eval()


def test_shapes_and_map_zero_outside_hand() -> None:
    images = torch.rand(3, 3, 32, 32)
    mask = torch.zeros(3, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    with torch.no_grad():
        output = _model()(images, hand_mask=mask)
    assert output.pred_score.shape == (3,)
    assert output.anomaly_map.shape == (3, 1, 32, 32)
    assert output.anomaly_map[mask == 0].abs().max() == 0
    assert (output.anomaly_map[mask == 1] > 0).any()


def test_scores_by_hand() -> None:
    errors = torch.zeros(1, 1, 4, 4)
    errors[0, 0, 0, :3] = torch.tensor([4.0, 2.0, 1.0])
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, 0] = 1
    assert image_score(errors, mask, Score.MSE).item() == pytest.approx(7 / 4)
    assert image_score(errors, mask, Score.TOPK, top_k=2).item() == pytest.approx(3.0)


def test_mask_margin_leaves_the_outline_out_of_scores_and_maps() -> None:
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, 0, 2:14, 2:14] = 1  # a hand whose inside survives a margin of 2
    mask[1, 0, 7:9, 7:9] = 1  # a hand the margin would erase: it keeps its whole mask
    target = torch.zeros(2, 1, 16, 16)
    reconstruction = torch.zeros(2, 1, 16, 16)
    reconstruction[0, 0, 2, 2:14] = 3.0  # the outline missed, as on every film
    reconstruction[0, 0, 8, 8] = 1.0  # a small anomaly inside the hand
    inner = inner_mask(mask, 2)
    assert inner[0].sum() == 8 * 8 and inner[0, 0, 4:12, 4:12].all()
    assert torch.equal(inner[1], mask[1])
    assert inner_mask(torch.ones(1, 1, 8, 8), 1)[0, 0].sum() == 6 * 6  # the image border is an edge too
    whole = reconstruction_scores(target, reconstruction, mask, top_k=1)
    kept_in = reconstruction_scores(target, reconstruction, mask, top_k=1, mask_margin=2)
    assert whole["topk"][0][0] == pytest.approx(9.0)  # the outline outweighs the anomaly
    assert kept_in["topk"][0][0] == pytest.approx(1.0)  # the anomaly is what is scored
    assert kept_in["mse"][0][0] == pytest.approx(1 / 64)
    assert kept_in["topk"][1][0, 0, 2].abs().max() == 0  # the map leaves the outline out too
    with pytest.raises(ValueError, match="mask_margin"):
        inner_mask(mask, -1)


def test_masked_loss_ignores_background() -> None:
    image = torch.zeros(2, 1, 8, 8)
    reconstruction = torch.zeros(2, 1, 8, 8)
    reconstruction[..., :, 4:] = 5.0  # wrong only outside the hand
    mask = torch.zeros(2, 1, 8, 8)
    mask[..., :, :4] = 1
    assert masked_reconstruction_loss(image, reconstruction, mask).item() == 0.0


def test_training_reduces_the_loss() -> None:
    torch.manual_seed(0)
    model = Cae(channels=[8, 16], bottleneck_channels=16, image_size=32, lr=1e-2)
    images = torch.rand(4, 1, 32, 32).expand(4, 3, 32, 32)
    optimizer = model.configure_optimizers()
    losses = []
    for _ in range(30):
        target, reconstruction = model.model.reconstruct(images)
        loss = masked_reconstruction_loss(target, reconstruction, torch.ones_like(target))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_image_size_must_fit_the_depth() -> None:
    with pytest.raises(ValueError, match="divisible"):
        Cae(channels=[8, 16, 32], image_size=100)

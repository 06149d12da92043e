import torch
from xray_anomalib_plugins.vae import Vae
from xray_anomalib_plugins.vae.torch_model import VaeModel


def _model(score: str) -> VaeModel:
    torch.manual_seed(0)
    return VaeModel(channels=[8, 16], latent_channels=4, score=score, top_k=20).eval()


def test_kld_score_is_the_latent_divergence() -> None:
    model = _model("kld")
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        _, mean, log_variance = model.encode(images)
        expected = (-0.5 * (1 + log_variance - mean.square() - log_variance.exp())).flatten(1).mean(dim=1)
        torch.testing.assert_close(model(images).pred_score, expected)


def test_losses_combine_reconstruction_and_weighted_kl() -> None:
    torch.manual_seed(0)
    model = VaeModel(channels=[8, 16], latent_channels=4, kl_weight=0.5).train()
    losses = model.losses(torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32))
    torch.testing.assert_close(losses["loss"], losses["reconstruction"] + 0.5 * losses["kld"])
    assert losses["kld"] >= 0


def test_training_reduces_the_loss() -> None:
    torch.manual_seed(0)
    module = Vae(channels=[8, 16], latent_channels=4, image_size=32, lr=1e-2)
    images = torch.rand(4, 1, 32, 32).expand(4, 3, 32, 32)
    optimizer = module.configure_optimizers()
    first = last = None
    for _ in range(60):
        loss = module.model.losses(images, torch.ones(4, 1, 32, 32))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
        last = loss.item()
    assert last < 0.5 * first

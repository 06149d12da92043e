"""The GANs: closed-form Grad-CAM equals autograd's, phases step only their networks, training stays finite."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine
from xray_anomalib_plugins.alphagan import AlphaGan
from zoo import films_and_masks, tiny_model

from xray_anomalib.data import Mura
from xray_anomalib.models.components.adversarial import ImageDiscriminator, masked_film


@pytest.mark.parametrize("code_dim", [0, 6])
def test_closed_form_grad_cam_equals_autograd(code_dim: int) -> None:
    torch.manual_seed(0)
    discriminator = ImageDiscriminator([4, 8], image_size=16, code_dim=code_dim).eval()
    films = torch.randn(3, 1, 16, 16)
    code = torch.randn(3, code_dim) if code_dim else None
    logit, features = discriminator(films, code)
    features.retain_grad()
    (1 - torch.sigmoid(logit)).sum().backward()  # films are independent: the sum's gradient is per film
    alpha = features.grad.mean(dim=(2, 3), keepdim=True)
    expected = torch.relu((alpha * features).sum(dim=1, keepdim=True))
    assert expected.abs().max() > 0
    torch.testing.assert_close(discriminator.grad_cam(logit, features), expected)


@pytest.mark.parametrize("name", ["dcgan", "bigan", "alphagan"])
def test_each_phase_steps_only_its_networks(name: str) -> None:
    model = tiny_model(name).train()
    films, masks = films_and_masks(4)
    for phase in model.training_phases():
        before = {net: [p.detach().clone() for p in getattr(model, net).parameters()] for net in model.networks}
        optimizers = {net: torch.optim.SGD(getattr(model, net).parameters(), lr=0.1) for net in phase.networks}
        model.zero_grad()
        loss = phase.loss(films, masks)
        assert torch.isfinite(loss)
        loss.backward()
        for optimizer in optimizers.values():
            optimizer.step()
        for net, parameters in before.items():
            after = getattr(model, net).parameters()
            changed = any(not torch.equal(p, q) for p, q in zip(parameters, after, strict=True))
            assert changed == (net in phase.networks), (phase.name, net)


def test_gan_films_hide_the_background() -> None:
    films, masks = films_and_masks(2)
    seen = masked_film(films, masks)
    assert (seen[masks == 0] == -1).all()
    torch.testing.assert_close(seen[masks == 1], (films[:, :1] * 2 - 1)[masks == 1])


@pytest.mark.slow
def test_alpha_gan_trains_with_one_optimiser_per_network_and_scores_every_test_film(
    full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    model = AlphaGan(
        channels=[8, 16, 32],
        discriminator_channels=[8, 16],
        latent_dim=16,
        image_size=64,
        score="combined",
        combine=["discriminator", "code_discriminator", "topk"],
        top_k=50,
    )
    datamodule = full_datamodule(eval_batch_size=7)
    engine = Engine(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    engine.fit(model=model, datamodule=datamodule)
    assert len(model.optimizers()) == 4
    logged = engine.trainer.logged_metrics
    for phase in ("encoder_generator", "discriminator", "code_discriminator"):
        assert torch.isfinite(logged[f"train_{phase}_loss_epoch"])
    assert model.model.combination.is_fitted
    predictions = engine.predict(model=model, dataloaders=datamodule.test_dataloader())
    scores = torch.cat([batch.pred_score for batch in predictions])
    assert len(scores) == len(datamodule.test_data)  # no film dropped, even with a last partial batch
    assert torch.isfinite(scores).all()

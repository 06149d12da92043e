"""Ensembles across trained models: members frozen, statistics fitted on normal validation films, clear errors."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine
from sklearn.metrics import roc_auc_score
from torch.nn import functional as F  # noqa: N812
from xray_anomalib_plugins.cae import Cae
from xray_anomalib_plugins.ensemble import ModelEnsemble

from xray_anomalib.data import Mura
from xray_anomalib.deploy.backends import load_checkpoint
from xray_anomalib.models.components.scoring import ScoreCombination
from xray_anomalib.models.components.trained_models import BuiltFromTrainedModels, TrainedModel


def mean_zscore(combination: ScoreCombination, scored: dict) -> torch.Tensor:
    """The mean of the members' scores, each standardised by the statistics the ensemble fitted."""
    standardised = [
        (scored[name][0] - combination.mean[i]) / combination.std[i] for i, name in enumerate(combination.members)
    ]
    return torch.stack(standardised).mean(dim=0)


@pytest.mark.slow
def test_ensemble_of_trained_models_fits_on_validation_and_tests(
    member_checkpoints: list, full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    model = ModelEnsemble(members=member_checkpoints, method="zscore", image_size=64)
    assert model.model.names == ("cae0", "vae1")
    before = [parameter.clone() for parameter in model.model.members.parameters()]
    datamodule = full_datamodule()
    engine = Engine(default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    engine.fit(model=model, datamodule=datamodule)
    ensemble = model.model.combination
    assert ensemble.is_fitted and (ensemble.std != 1).all()
    for old, new in zip(before, model.model.members.parameters(), strict=True):
        torch.testing.assert_close(old, new)  # members are frozen
    results = engine.test(model=model, datamodule=datamodule)
    labels, scores = [], []
    model.eval()
    with torch.no_grad():
        for batch in datamodule.test_dataloader():
            labels.append(batch.gt_label)
            scores.append(model(batch.image, batch.hand_mask.unsqueeze(1).float()).pred_score)
    # anomalib's test reports the AUROC of the ensemble's scores of the test films, as its post-processor
    # normalised them (clamped to [0, 1]: test scores beyond the validation range tie)
    expected_auroc = roc_auc_score(torch.cat(labels).numpy(), torch.cat(scores).numpy())
    assert results[0]["image_AUROC"] == pytest.approx(expected_auroc, abs=1e-6)
    validation = next(iter(datamodule.val_dataloader()))
    normal = validation.gt_label == 0
    hand = validation.hand_mask.unsqueeze(1).float()
    with torch.no_grad():
        scores = model.model(validation.image, hand).pred_score
        members = model.model.score_maps(validation.image, hand)
    torch.testing.assert_close(scores, mean_zscore(ensemble, members))
    assert scores[normal].mean().abs() < 1.5  # standardised on normal films


@pytest.mark.slow
def test_an_anomalib_baseline_joins_an_ensemble_by_its_raw_score_in_the_body(
    trained_members: dict, full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    members = [trained_members["cae"], trained_members["patchcore"]]
    model = ModelEnsemble(members=members, method="zscore", image_size=64)
    assert model.static_batch  # PatchCore's graph takes one film at a time, and so does the ensemble's
    patchcore = load_checkpoint(Path(trained_members["patchcore"]["checkpoint"]))[0].eval()
    datamodule = full_datamodule()
    engine = Engine(default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    engine.fit(model=model, datamodule=datamodule)
    torch.testing.assert_close(model.model.members[1].model.memory_bank, patchcore.model.memory_bank)
    batch = next(iter(datamodule.test_dataloader()))
    hand = batch.hand_mask.unsqueeze(1).float()
    model.eval()
    with torch.no_grad():
        scores = model.model(batch.image, hand).pred_score
        raw = patchcore.scored(patchcore.pre_processor(batch.image), hand).pred_score.reshape(-1)
        members_scored = model.model.score_maps(batch.image, hand)
    torch.testing.assert_close(members_scored["patchcore1"][0], raw)  # before anomalib's normalisation, in the body
    torch.testing.assert_close(scores, mean_zscore(model.model.combination, members_scored))
    saved = Path(engine.trainer.checkpoint_callback.best_model_path)  # what export and predict load
    reloaded = load_checkpoint(saved)[0].eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded.model(batch.image, hand).pred_score, scores)


def test_members_must_exist_and_have_both_keys(member_checkpoints: list, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        ModelEnsemble(members=[{"model": "cae", "checkpoint": str(tmp_path / "missing.ckpt")}], image_size=64)
    with pytest.raises(ValueError, match="exactly the keys"):
        ModelEnsemble(members=[{"model": "cae"}], image_size=64)


def test_a_member_trained_at_another_size_scores_the_film_resized_to_it(member_checkpoints: list) -> None:
    at_128 = ModelEnsemble(members=member_checkpoints, image_size=128).model.eval()
    at_64 = ModelEnsemble(members=member_checkpoints, image_size=64).model.eval()
    film = torch.rand(2, 3, 128, 128)
    hand = torch.zeros(2, 1, 128, 128)
    hand[..., 16:112, 24:104] = 1
    with torch.no_grad():
        scored = at_128.score_maps(film, hand)
        small = F.avg_pool2d(film, 2)  # a film of twice the member's size is averaged 2 x 2
        expected = at_64.score_maps(small, F.interpolate(hand, size=(64, 64), mode="nearest"))
    for name, (score, anomaly_map) in scored.items():
        torch.testing.assert_close(score, expected[name][0])
        assert anomaly_map.shape == (2, 1, 128, 128)  # the map at the ensemble's size
        torch.testing.assert_close(F.avg_pool2d(anomaly_map, 2).mean(), expected[name][1].mean(), rtol=0.05, atol=0)


def test_the_ensemble_names_and_resolves_its_own_members() -> None:
    assert issubclass(ModelEnsemble, BuiltFromTrainedModels) and not issubclass(Cae, BuiltFromTrainedModels)
    grid_arguments = {"members": ["cae", "vae_b"], "method": "rank"}
    assert ModelEnsemble.trained_model_labels(grid_arguments) == ["cae", "vae_b"]
    trained = [TrainedModel("cae", Path("a/model.ckpt")), TrainedModel("vae", Path("b/model.ckpt"))]
    assert ModelEnsemble.with_trained_models(grid_arguments, trained) == {
        "members": [{"model": "cae", "checkpoint": "a/model.ckpt"}, {"model": "vae", "checkpoint": "b/model.ckpt"}],
        "method": "rank",
    }
    with pytest.raises(ValueError, match="two or more labels"):
        ModelEnsemble.trained_model_labels({"members": [{"model": "cae", "checkpoint": "a/model.ckpt"}, "vae"]})

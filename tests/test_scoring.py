"""Scores of every plugin are per film and deterministic; score selection and combined scores."""

import pytest
import torch
from zoo import MODEL_SCORES, films_and_masks, tiny_model

from xray_anomalib.models.components.scoring import ScoreCombination


@pytest.mark.parametrize(("name", "score"), MODEL_SCORES)
def test_every_score_is_deterministic_and_independent_of_the_batch(name: str, score: str) -> None:
    model = tiny_model(name, score=score)
    films, masks = films_and_masks()
    with torch.no_grad():
        together = model(films, masks)
        again = model(films, masks)
        alone = [model(films[i : i + 1], masks[i : i + 1]) for i in range(len(films))]
        reversed_batch = model(films.flip(0), masks.flip(0))
    assert together.pred_score.shape == (len(films),)
    assert torch.isfinite(together.pred_score).all()
    torch.testing.assert_close(together.pred_score, again.pred_score)
    torch.testing.assert_close(together.pred_score, torch.cat([out.pred_score for out in alone]))
    torch.testing.assert_close(together.pred_score, reversed_batch.pred_score.flip(0))
    torch.testing.assert_close(together.anomaly_map, torch.cat([out.anomaly_map for out in alone]))
    assert together.anomaly_map.shape == masks.shape
    assert together.anomaly_map[masks == 0].abs().max() == 0
    if "discriminator" in score:  # Grad-CAM: ReLU of the weighted features, zero where nothing argues "anomalous"
        assert together.anomaly_map.min() >= 0
    else:
        assert together.anomaly_map[masks == 1].abs().max() > 0


def test_unknown_score_names_the_model_scores() -> None:
    with pytest.raises(ValueError, match=r"Unknown score.*'kld'"):
        tiny_model("cae", score="kld")
    with pytest.raises(ValueError, match="set score: combined"):
        tiny_model("cae", score="mse", combine=["mse", "l1"])
    with pytest.raises(ValueError, match="at least two"):
        tiny_model("cae", score="combined", combine=["mse"])


def _fitted(method: str) -> ScoreCombination:
    combination = ScoreCombination(["a", "b"], method=method, quantiles=5)
    normal_a = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])
    combination.fit({"a": normal_a, "b": 10 * normal_a}, {"a": torch.full((5,), 2.0), "b": torch.full((5,), 4.0)})
    return combination


def test_zscore_combination_standardises_each_member_on_normal_films() -> None:
    combination = _fitted("zscore")
    std = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]).std()
    maps = torch.ones(1, 1, 2, 2)
    score, anomaly_map = combination({"a": (torch.tensor([4.0]), 2 * maps), "b": (torch.tensor([20.0]), 8 * maps)})
    expected = ((4.0 - 2.0) / std + (20.0 - 20.0) / (10 * std)) / 2
    torch.testing.assert_close(score, expected.reshape(1))
    torch.testing.assert_close(anomaly_map, maps * (2 / 2 + 8 / 4) / 2)


def test_rank_combination_averages_the_fraction_of_normal_films_below() -> None:
    combination = _fitted("rank")
    maps = torch.ones(2, 1, 2, 2)
    score, _ = combination({"a": (torch.tensor([2.5, 10.0]), maps), "b": (torch.tensor([-1.0, 35.0]), maps)})
    torch.testing.assert_close(score, torch.tensor([(3 / 5 + 0) / 2, (1 + 4 / 5) / 2]))


def test_an_unfitted_combination_refuses_to_score_and_a_loaded_one_scores() -> None:
    model = tiny_model("cae", score="combined", combine=["mse", "topk"])
    films, masks = films_and_masks()
    with pytest.raises(RuntimeError, match="not fitted"):
        model(films, masks)
    fitted = tiny_model("cae", score="combined", combine=["mse", "topk"])
    fitted.combination.fit({"mse": torch.rand(8), "topk": torch.rand(8)}, {"mse": torch.rand(8), "topk": torch.rand(8)})
    model.load_state_dict(fitted.state_dict())
    torch.testing.assert_close(model(films, masks).pred_score, fitted(films, masks).pred_score)

"""A baseline's image score taken where its heatmap is shown: the map's peak over the body."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from anomalib.data import InferenceBatch
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.deploy.predictor import Predictor
from xray_anomalib.models.baselines import Dfm, Padim, Patchcore, Stfpm
from xray_anomalib.models.components.body_score import peak_in_body


def _predictions(anomaly_map: torch.Tensor) -> InferenceBatch:
    return InferenceBatch(pred_score=anomaly_map.flatten(1).amax(dim=1), anomaly_map=anomaly_map)


def test_score_is_the_peak_inside_the_body_and_the_map_is_floored_outside() -> None:
    anomaly_map = torch.zeros(1, 1, 8, 8)
    anomaly_map[0, 0, 0, 0] = 9.0  # a marker outside the body
    anomaly_map[0, 0, 4, 4] = 3.0
    anomaly_map[0, 0, 5, 5] = 1.0
    body = torch.zeros(1, 1, 8, 8)
    body[..., 2:7, 2:7] = 1
    restricted = peak_in_body(_predictions(anomaly_map), body)
    assert restricted.pred_score.tolist() == [3.0]
    assert restricted.anomaly_map[0, 0, 0, 0] == 0.0  # the lowest value inside the body
    assert torch.equal(restricted.anomaly_map[..., 2:7, 2:7], anomaly_map[..., 2:7, 2:7])


def test_margin_leaves_out_the_outline_and_an_empty_mask_keeps_the_film() -> None:
    anomaly_map = torch.zeros(2, 1, 8, 8)
    anomaly_map[:, 0, 2, 2] = 5.0  # on the body's outline
    anomaly_map[:, 0, 4, 4] = 2.0  # inside
    body = torch.zeros(2, 8, 8)
    body[0, 2:7, 2:7] = 1  # the second film's mask is empty
    assert peak_in_body(_predictions(anomaly_map), body).pred_score.tolist() == [5.0, 5.0]
    assert peak_in_body(_predictions(anomaly_map), body, mask_margin=1).pred_score.tolist() == [2.0, 5.0]


def test_mask_is_resized_to_the_map() -> None:
    anomaly_map = torch.arange(16.0).reshape(1, 1, 4, 4)
    body = torch.zeros(1, 1, 8, 8)
    body[..., :4, :4] = 1  # the map's top-left quarter
    assert peak_in_body(_predictions(anomaly_map), body).pred_score.tolist() == [5.0]


def _fitted_patchcore() -> Patchcore:
    model = Patchcore(
        backbone="resnet18", pre_trained=False, coreset_sampling_ratio=0.5, image_size=64, score_in_body=True
    )
    torch.manual_seed(0)
    model.model.embedding_store = [torch.randn(200, 384)]
    model.fit()
    return model


def _stfpm() -> Stfpm:  # the student needs no fit to give a map
    return Stfpm(layers=["blocks.1", "blocks.2"], image_size=64, score_in_body=True)


@pytest.mark.parametrize("build", [_fitted_patchcore, _stfpm], ids=["patchcore", "stfpm"])
def test_score_in_the_body_is_per_film_and_takes_the_hand_mask(build: Callable[[], Patchcore | Stfpm]) -> None:
    model = build().eval()
    assert model.takes_hand_mask
    torch.manual_seed(0)
    films = torch.rand(3, 3, 64, 64)
    masks = torch.zeros(3, 1, 64, 64)
    masks[:, :, 16:48, 8:40] = 1
    with torch.no_grad():
        together = model.scored(films, masks).pred_score.reshape(-1)  # STFPM's is (films, 1)
        alone = [model.scored(films[i : i + 1], masks[i : i + 1]).pred_score.reshape(-1) for i in range(3)]
        whole = model.model(films)
    torch.testing.assert_close(torch.cat(alone), together)
    inside = whole.anomaly_map[:, :, 16:48, 8:40].flatten(1).amax(dim=1)
    torch.testing.assert_close(together, inside)


@pytest.mark.parametrize(
    ("model_class", "args"),
    [
        (Patchcore, {"backbone": "resnet18", "pre_trained": False}),
        (Padim, {"backbone": "resnet18", "pre_trained": False}),
        (Dfm, {}),
        (Stfpm, {}),
    ],
)
def test_feature_baselines_take_the_hand_mask_only_when_scoring_in_the_body(
    model_class: type[Patchcore | Padim | Dfm | Stfpm], args: dict[str, object]
) -> None:
    assert not model_class(**args).takes_hand_mask
    restricted = model_class(**args, score_in_body=True, mask_margin=3)
    assert (restricted.takes_hand_mask, restricted.mask_margin) == (True, 3)
    assert restricted.hparams["score_in_body"]  # saved, so that a checkpoint reloads it


def test_negative_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="mask_margin must be 0 or more pixels, got -1"):
        Patchcore(backbone="resnet18", pre_trained=False, score_in_body=True, mask_margin=-1)


@pytest.mark.slow
def test_predict_gives_the_body_score_through_torch_and_openvino(
    full_datamodule: Callable[..., Mura], tmp_path: Path
) -> None:
    model = Patchcore(
        backbone="resnet18",
        pre_trained=False,
        coreset_sampling_ratio=0.05,
        image_size=64,
        score_in_body=True,
        mask_margin=2,
    )
    datamodule = full_datamodule(image_size=64)
    engine = Engine(
        max_epochs=1, limit_train_batches=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False
    )
    engine.fit(model=model, datamodule=datamodule)
    checkpoint = Path(engine.trainer.checkpoint_callback.best_model_path)
    by_torch, by_openvino = (Predictor(checkpoint, backend=backend) for backend in ("torch", "openvino"))
    module = by_torch.runner.module
    assert module.takes_hand_mask
    for film in datamodule.test_data.samples["film_path"].drop_duplicates().head(3):
        prepared = by_torch.prepare(film)
        with torch.no_grad():
            expected = module(torch.from_numpy(prepared.images[:1]), torch.from_numpy(prepared.hand_masks[:1]))
        torch_score, openvino_score = by_torch.predict(film).score, by_openvino.predict(film).score
        assert torch_score == pytest.approx(float(expected.pred_score), abs=1e-6)
        assert openvino_score == pytest.approx(torch_score, abs=1e-4)

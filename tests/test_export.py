"""OpenVINO export of every registered model gives the torch model's scores and maps.

Our X-ray plugins export two inputs (film and hand mask) and are compared with the hand mask applied;
anomalib's baselines take the film only, unless their score is restricted to the body (``score_in_body``).
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
import torch
from anomalib.deploy import CompressionType, ExportType
from anomalib.engine import Engine
from anomalib.models import AnomalibModule

from xray_anomalib.data import Mura
from xray_anomalib.registry import build_model, list_models

SCORE_TOLERANCE = 1e-4
MAP_TOLERANCE = 1e-4  # post-processed scores and maps lie in [0, 1]
IMAGE_SIZE = 64
TINY_GAN = {"channels": [8, 16, 32], "discriminator_channels": [8, 16], "latent_dim": 16, "image_size": IMAGE_SIZE}
TINY_ARGS = {
    "cae": {
        "channels": [8, 16, 32],
        "bottleneck_channels": 32,
        "image_size": IMAGE_SIZE,
        "score": "topk",
        "top_k": 50,
        "mask_margin": 2,
    },
    "vae": {"channels": [8, 16, 32], "latent_channels": 8, "image_size": IMAGE_SIZE, "score": "mse_kld"},
    "dcgan": TINY_GAN,
    "bigan": {**TINY_GAN, "score": "discriminator"},
    "alphagan": {
        **TINY_GAN,
        "score": "combined",
        "combine": ["discriminator_mean", "topk"],
        "combine_method": "rank",
        "top_k": 50,
    },
    "blendseg": {"channels": [8, 16, 32], "image_size": IMAGE_SIZE, "score": "segmentation", "top_k": 50},
    "padim": {"backbone": "resnet18", "pre_trained": False, "image_size": IMAGE_SIZE},
    "dfm": {"image_size": IMAGE_SIZE},  # the packaged EfficientNet-Lite0 features
    "draem": {"image_size": IMAGE_SIZE},  # Perlin-noise textures, no DTD download
    "stfpm": {"image_size": IMAGE_SIZE},  # the packaged EfficientNet-Lite0 teacher
    "supersimplenet": {"layers": ["blocks.1", "blocks.2"], "image_size": IMAGE_SIZE},  # a 32 px map at 64 px
    "fastflow": {"pre_trained": False, "flow_steps": 2, "image_size": IMAGE_SIZE},
    "reverse_distillation": {"pre_trained": False, "image_size": IMAGE_SIZE},
    "patchcore": {
        "backbone": "resnet18",
        "pre_trained": False,
        "coreset_sampling_ratio": 0.05,
        "image_size": IMAGE_SIZE,
    },
}
LITE0 = {"backbone": "tf_efficientnet_lite0", "pre_trained": True, "image_size": IMAGE_SIZE}
EXTRA_CASES = {  # other settings: the packaged backbone (its input statistics in the graph), local scaling, body score
    "padim_lite0": ("padim", {**LITE0, "layers": ["blocks.1", "blocks.2", "blocks.4"], "n_features": 50}),
    "patchcore_lite0": ("patchcore", {**LITE0, "layers": ["blocks.2", "blocks.4"], "coreset_sampling_ratio": 0.05}),
    "patchcore_local_scale": ("patchcore", {**TINY_ARGS["patchcore"], "local_scale_neighbors": 5}),
    "patchcore_in_body": ("patchcore", {**TINY_ARGS["patchcore"], "score_in_body": True, "mask_margin": 2}),
    "padim_in_body": ("padim", {**TINY_ARGS["padim"], "score_in_body": True, "mask_margin": 2}),
    "dfm_in_body": ("dfm", {**TINY_ARGS["dfm"], "score_in_body": True, "mask_margin": 2}),
    "stfpm_in_body": ("stfpm", {**TINY_ARGS["stfpm"], "score_in_body": True, "mask_margin": 2}),
    "fastflow_lite0_in_body": ("fastflow", {**LITE0, "flow_steps": 2, "score_in_body": True, "mask_margin": 2}),
    "reverse_distillation_lite0_in_body": (
        "reverse_distillation",
        {**LITE0, "layers": ["blocks.1", "blocks.2", "blocks.4"], "score_in_body": True, "mask_margin": 2},
    ),
    "ensemble_with_patchcore": ("ensemble", {}),  # a plugin and a baseline scored in the body: a batch of one
    "ensemble_at_128": ("ensemble", {}),  # members trained at 64 px score films averaged down from 128 px
}
ENSEMBLE_MEMBERS = {  # members and the ensemble's size
    "ensemble": (("cae", "vae"), IMAGE_SIZE),
    "ensemble_with_patchcore": (("cae", "patchcore"), IMAGE_SIZE),
    "ensemble_at_128": (("cae", "patchcore"), 2 * IMAGE_SIZE),
}


def fitted_case(
    case: str, full_datamodule: Callable[..., Mura], tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[AnomalibModule, Mura, Engine]:
    """The case's model fitted briefly on the synthetic films at its size, with its datamodule and engine.

    Exports need a fitted model (memory banks, normalisation, ensemble statistics), not a well-trained one.
    """
    name, args = EXTRA_CASES.get(case, (case, TINY_ARGS.get(case)))
    if name == "ensemble":
        trained = request.getfixturevalue("trained_members")
        labels, size = ENSEMBLE_MEMBERS[case]
        members = [trained[member] for member in labels]
        args = {"members": members, "method": "zscore", "image_size": size}  # z-scores: no ties, unlike ranks
    model = build_model(name, **args)
    datamodule = full_datamodule(image_size=args.get("image_size", IMAGE_SIZE))
    engine = Engine(
        max_epochs=1, limit_train_batches=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False
    )
    engine.fit(model=model, datamodule=datamodule)
    return model, datamodule, engine


@pytest.mark.slow
@pytest.mark.parametrize("case", [*(spec.name for spec in list_models()), *EXTRA_CASES])
def test_openvino_matches_torch(
    case: str, full_datamodule: Callable[..., Mura], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model, datamodule, engine = fitted_case(case, full_datamodule, tmp_path, request)
    xml = engine.export(model=model, export_type=ExportType.OPENVINO, export_root=tmp_path / "export")
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    batch = next(iter(datamodule.test_dataloader()))
    hand_mask = batch.hand_mask.unsqueeze(1).float()
    assert 0 < hand_mask.mean() < 1  # the masks of the full preprocessing, not all ones
    takes_mask = len(compiled.inputs) == 2
    assert takes_mask == model.takes_hand_mask
    model.eval()
    with torch.no_grad():
        expected = model(batch.image, hand_mask) if takes_mask else model(batch.image)
    for index in range(4):
        inputs = [batch.image[index : index + 1].numpy()]
        if takes_mask:
            inputs.append(hand_mask[index : index + 1].numpy())
        result = compiled(inputs)
        outputs = {port.get_any_name(): value for port, value in result.items()}
        np.testing.assert_allclose(
            outputs["pred_score"].reshape(-1), expected.pred_score[index].reshape(-1).numpy(), atol=SCORE_TOLERANCE
        )
        np.testing.assert_allclose(
            outputs["anomaly_map"].reshape(-1),
            expected.anomaly_map[index].reshape(-1).numpy(),
            atol=MAP_TOLERANCE,
        )


@pytest.mark.slow
@pytest.mark.parametrize("case", ["cae", "patchcore_in_body", "padim_in_body", "patchcore", "padim"])
def test_int8_post_training_quantization_feeds_the_graph_what_it_takes(
    case: str, full_datamodule: Callable[..., Mura], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Calibrated on validation films, with the hand masks where the graph takes them, one by one for a static batch."""
    model, datamodule, _ = fitted_case(case, full_datamodule, tmp_path, request)
    xml = model.to_openvino(tmp_path / "export", compression_type=CompressionType.INT8_PTQ, datamodule=datamodule)
    graph = ov.Core().read_model(str(xml))
    assert [port.get_any_name() for port in graph.inputs] == ["input", "hand_mask"][: 1 + model.takes_hand_mask]
    assert any(op.get_type_name() == "FakeQuantize" for op in graph.get_ops())
    batch = next(iter(datamodule.test_dataloader()))
    compiled = ov.Core().compile_model(graph, "CPU")
    result = compiled([batch.image[:1].numpy(), batch.hand_mask[:1, None].float().numpy()][: 1 + model.takes_hand_mask])
    scores = {port.get_any_name(): value for port, value in result.items()}["pred_score"]
    assert np.isfinite(scores).all()

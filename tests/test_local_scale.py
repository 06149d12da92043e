"""PatchCore's local scaling: a bank patch's spacing to its neighbours divides the distances it is nearest to."""

from pathlib import Path

import onnx
import pytest
import torch
from anomalib.models.image.patchcore.torch_model import DEFAULT_CHUNK_SIZE, PatchcoreModel

from xray_anomalib.models.baselines import Patchcore
from xray_anomalib.models.baselines.patchcore import LocallyScaledPatchcoreModel
from xray_anomalib.models.components.local_scale import kth_neighbour_distance


def test_kth_neighbour_distance_matches_brute_force_across_chunks() -> None:
    torch.manual_seed(0)
    bank = torch.randn(50, 8)
    distances = torch.cdist(bank, bank) + torch.diag(torch.full((50,), float("inf")))
    expected = distances.sort(dim=1).values[:, 2]  # the third nearest other row
    torch.testing.assert_close(kth_neighbour_distance(bank, 3, chunk=16), expected)


def test_kth_neighbour_distance_needs_enough_rows() -> None:
    with pytest.raises(ValueError, match="got 4 neighbours for 4 patches"):
        kth_neighbour_distance(torch.randn(4, 2), 4)
    with pytest.raises(ValueError, match="got 0 neighbours"):
        kth_neighbour_distance(torch.randn(4, 2), 0)


def _two_region_network() -> LocallyScaledPatchcoreModel:
    """A bank with a dense cluster at the origin (spacing 0.1) and a sparse row at x = 10 (spacing 5)."""
    network = LocallyScaledPatchcoreModel(layers=["layer1"], backbone="resnet18", pre_trained=False)
    network.memory_bank = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 0.0], [15.0, 0.0], [10.0, 5.0]])
    return network


def test_equally_distant_patch_scores_higher_in_densely_covered_anatomy() -> None:
    network = _two_region_network()
    queries = torch.tensor([[-1.0, 0.0], [9.0, 0.0]])  # each 1 from its nearest bank row
    raw, locations = network.nearest_neighbors(queries, n_neighbors=1)
    torch.testing.assert_close(raw, torch.ones(2))
    network.local_scale = kth_neighbour_distance(network.memory_bank, 1)
    scaled, same = network.nearest_neighbors(queries, n_neighbors=1)
    assert torch.equal(same, locations)
    torch.testing.assert_close(scaled, torch.tensor([1 / 0.1, 1 / 5.0]))
    support, _ = network.nearest_neighbors(queries, n_neighbors=2)  # the reweighting's search is not scaled
    torch.testing.assert_close(support[:, 0], torch.ones(2))


def test_nearest_bank_patch_is_anomalibs_across_chunks() -> None:
    torch.manual_seed(0)
    network = LocallyScaledPatchcoreModel(layers=["layer1"], backbone="resnet18", pre_trained=False)
    anomalib_network = PatchcoreModel(layers=["layer1"], backbone="resnet18", pre_trained=False)
    network.memory_bank = anomalib_network.memory_bank = torch.randn(300, 8)
    queries = torch.randn(DEFAULT_CHUNK_SIZE * 2 + 5, 8)
    distances, locations = network.nearest_neighbors(queries, n_neighbors=1)
    expected_distances, expected_locations = anomalib_network.nearest_neighbors(queries, n_neighbors=1)
    assert distances.shape == locations.shape == (len(queries),)
    torch.testing.assert_close(distances, expected_distances)
    assert torch.equal(locations, expected_locations)


class _NearestSearch(torch.nn.Module):
    """The network's nearest-bank-patch search alone, scaled locally, for export."""

    def __init__(self, network: LocallyScaledPatchcoreModel) -> None:
        super().__init__()
        self.network = network

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.network.nearest_neighbors(embedding, n_neighbors=1)[0]


def test_exported_search_finds_the_nearest_patch_with_topk(tmp_path: Path) -> None:
    """ONNX's ArgMin (what ``Tensor.min(dim)`` exports to) ran 10 times slower in OpenVINO than a TopK of one."""
    network = _two_region_network()
    network.local_scale = kth_neighbour_distance(network.memory_bank, 1)
    path = tmp_path / "search.onnx"
    torch.onnx.export(_NearestSearch(network), (torch.randn(4, 2),), str(path), dynamo=True, verbose=False)
    operators = {node.op_type for node in onnx.load(path).graph.node}
    assert "TopK" in operators
    assert not operators & {"ArgMin", "ReduceMin"}


def test_checkpoint_saved_before_local_scaling_loads() -> None:
    network = _two_region_network()
    state = {key: value for key, value in network.state_dict().items() if key != "local_scale"}
    loaded = LocallyScaledPatchcoreModel(layers=["layer1"], backbone="resnet18", pre_trained=False)
    loaded.load_state_dict(state)
    assert loaded.local_scale.numel() == 0
    torch.testing.assert_close(loaded.memory_bank, network.memory_bank)


def test_patchcore_adopts_anomalibs_network_with_the_seeds_weights() -> None:
    model = Patchcore(backbone="resnet18", pre_trained=False, layers=["layer1"], seed=5)
    torch.manual_seed(5)
    anomalib_network = PatchcoreModel(layers=["layer1"], backbone="resnet18", pre_trained=False)
    assert isinstance(model.model, LocallyScaledPatchcoreModel)
    assert model.model.local_scale.numel() == 0
    expected = anomalib_network.state_dict()
    adopted = {key: value for key, value in model.model.state_dict().items() if key != "local_scale"}
    assert adopted.keys() == expected.keys()
    assert all(torch.equal(adopted[key], expected[key]) for key in expected)


def test_fit_sets_the_scale_of_every_bank_patch() -> None:
    model = Patchcore(backbone="resnet18", pre_trained=False, coreset_sampling_ratio=0.1, local_scale_neighbors=3)
    torch.manual_seed(0)
    model.model.embedding_store = [torch.randn(400, 16)]
    model.fit()
    assert model.model.memory_bank.shape == (40, 16)
    torch.testing.assert_close(model.model.local_scale, kth_neighbour_distance(model.model.memory_bank, 3))
    with pytest.raises(ValueError, match="local_scale_neighbors must be 0"):
        Patchcore(backbone="resnet18", pre_trained=False, local_scale_neighbors=-1)

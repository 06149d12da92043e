"""The fast greedy coreset selects what anomalib's sampler selects, and stops when asked."""

import pytest
import torch
from anomalib.models.components.sampling import KCenterGreedy

from xray_anomalib.models.components.coreset import CoresetInterruptedError, greedy_coreset, project


def _anomalib_selection(projected: torch.Tensor, ratio: float, first: int) -> list[int]:
    sampler = KCenterGreedy(embedding=projected, sampling_ratio=ratio)
    sampler.features = projected
    sampler.reset_distances()
    chosen, index = [first], torch.tensor(first)
    for _ in range(sampler.coreset_size - 1):
        sampler.update_distances(index)
        index = sampler.get_new_idx()
        sampler.min_distances.scatter_(0, index.reshape(1, 1), 0.0)
        chosen.append(int(index))
    return chosen


def test_projects_only_to_fewer_dimensions() -> None:
    """2,000 rows have a Johnson-Lindenstrauss dimension of 187 at eps 0.9: 400 dims shrink to it, 96 stay."""
    torch.manual_seed(0)
    narrow, wide = torch.randn(2000, 96), torch.randn(2000, 400)
    assert project(narrow) is narrow
    assert project(wide).shape == (2000, 187)


def test_same_centers_as_anomalib_on_the_same_projection() -> None:
    torch.manual_seed(0)
    embedding = torch.randn(2000, 400) * torch.linspace(0.5, 2.0, 400)
    projected = project(embedding)
    ours = greedy_coreset(embedding, 0.02, projected=projected)
    first = int(ours.indices[0])
    assert ours.indices.tolist() == _anomalib_selection(projected, 0.02, first)
    distances = torch.cdist(projected, projected[ours.indices]).min(dim=1).values
    assert ours.radius == pytest.approx(distances.max().item(), rel=1e-4)


def test_selection_ignores_row_order_and_repeated_rows() -> None:
    """Features gathered from several processes arrive shuffled, with a few repeated: the same coreset."""
    torch.manual_seed(0)
    embedding = torch.randn(1000, 32)
    order = torch.randperm(1000)
    gathered = torch.cat([embedding[order], embedding[order[:7]]])
    first = greedy_coreset(embedding, 0.05, projected=embedding)
    second = greedy_coreset(gathered, 50.5 / 1007, projected=gathered)  # 50 centers, as above
    assert {tuple(row.tolist()) for row in embedding[first.indices]} == {
        tuple(row.tolist()) for row in gathered[second.indices]
    }


def test_stops_when_asked_and_refuses_an_empty_coreset() -> None:
    embedding = torch.randn(500, 16)
    calls = []
    with pytest.raises(CoresetInterruptedError, match="after 1 of 50"):
        greedy_coreset(embedding, 0.1, should_stop=lambda: calls.append(1) or True, check_every=10)
    with pytest.raises(ValueError, match="keeps no row"):
        greedy_coreset(embedding, 0.001)

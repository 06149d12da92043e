"""How densely a memory bank covers its patches: each bank patch's distance to its k-th nearest other bank patch.

PatchCore scores a patch by its distance to the nearest bank patch. A greedy k-center coreset keeps bank patches
about one coverage radius apart where normal films are alike, and farther apart around rare normal anatomy (toes,
a knee seen from the side, the limb's cut end), so a normal patch near such a bank patch lies far from it and
outscores a patch that is as unusual among common anatomy. Dividing the distance by the nearest bank patch's
spacing to its own neighbours (local scaling, as in the local outlier factor) puts both on one scale.

Example:
    >>> import torch
    >>> bank = torch.tensor([[0.0], [1.0], [3.0]])
    >>> kth_neighbour_distance(bank, 1).tolist()
    [1.0, 1.0, 2.0]
"""

from __future__ import annotations

import torch


def kth_neighbour_distance(bank: torch.Tensor, neighbours: int, chunk: int = 2048) -> torch.Tensor:
    """Each row's Euclidean distance to its ``neighbours``-th nearest other row of ``bank``.

    Args:
        bank: ``(K, d)`` memory bank.
        neighbours: Which neighbour's distance (1: the nearest other row).
        chunk: Rows compared with the whole bank at once (a ``chunk x K`` distance matrix).

    Raises:
        ValueError: When ``neighbours`` is below 1 or the bank has no ``neighbours`` other rows.
    """
    if not 1 <= neighbours < len(bank):
        msg = (
            f"the local scale needs 1 <= neighbours < bank size; got {neighbours} neighbours for {len(bank)} patches "
            "(keep more patches, coreset_sampling_ratio, or ask for fewer neighbours, local_scale_neighbors)."
        )
        raise ValueError(msg)
    distances = []
    for start in range(0, len(bank), chunk):
        block = torch.cdist(bank[start : start + chunk], bank)
        rows = torch.arange(len(block))
        block[rows, rows + start] = float("inf")  # a row is not its own neighbour
        distances.append(block.topk(neighbours, dim=1, largest=False).values[:, -1])
    return torch.cat(distances)

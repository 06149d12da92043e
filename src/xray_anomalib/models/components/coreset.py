"""Greedy k-center coreset selection for PatchCore, with the distance update as one matrix-vector product.

The algorithm is anomalib's (``KCenterGreedy``: sparse random projection, then repeatedly take the point farthest
from the centers chosen so far), with one difference: the features are projected only when the projection reduces
their dimension. anomalib projects to the Johnson-Lindenstrauss dimension of the patch count whatever the features'
dimension (335 for 807,000 patches at its ``eps`` of 0.9), so 152-dim features were expanded to 335 random dimensions:
twice the work per iteration, and distances only approximately preserved (scikit-learn's projection refuses such an
expansion). anomalib updates the distances with ``norm(features - center)``, which writes an
``N x d`` array per iteration; here the squared distance is ``|f|^2 - 2 f.c + |c|^2`` with the squared norms
computed once, so each iteration reads the features once (one matrix-vector product) and writes nothing of size
``N x d``. It checks ``should_stop`` every ``check_every`` iterations, so that a run asked to stop (Lightning's
SIGTERM flag, Ctrl-C) does not keep selecting for minutes.

Example:
    >>> import torch
    >>> embedding = torch.randn(1000, 64)
    >>> selection = greedy_coreset(embedding, sampling_ratio=0.05)
    >>> len(selection.indices), selection.radius > 0
    (50, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from anomalib.models.components.dimensionality_reduction import SparseRandomProjection
from sklearn.random_projection import johnson_lindenstrauss_min_dim


class CoresetInterruptedError(RuntimeError):
    """Raised when ``should_stop`` asked the selection to stop."""


@dataclass(frozen=True)
class CoresetSelection:
    """Chosen rows and the coverage radius they reach.

    Attributes:
        indices: Row indices of the embedding kept in the coreset, in order of selection.
        radius: Largest distance, in the space selected in, from any row to its nearest chosen row.
    """

    indices: torch.Tensor
    radius: float


def project(embedding: torch.Tensor, eps: float = 0.9) -> torch.Tensor:
    """Sparse random projection of the embedding (anomalib's component and its ``eps``), when it reduces dimensions.

    Returns the embedding itself when the Johnson-Lindenstrauss dimension of its row count is not below its own.
    """
    if johnson_lindenstrauss_min_dim(embedding.shape[0], eps=eps) >= embedding.shape[1]:
        return embedding
    return SparseRandomProjection(eps=eps).fit(embedding).transform(embedding)


def greedy_coreset(
    embedding: torch.Tensor,
    sampling_ratio: float,
    should_stop: Callable[[], bool] | None = None,
    check_every: int = 256,
    projected: torch.Tensor | None = None,
) -> CoresetSelection:
    """Select ``int(N * sampling_ratio)`` rows of ``embedding`` by greedy k-center.

    The first center is the (projected) feature farthest from the origin (anomalib draws it at random), so the
    selection depends on the features and the projection only, not on their order: features gathered from the
    processes of a distributed run, in any order and with the sampler's repeated films, give the same coreset.

    Args:
        embedding: ``(N, d)`` patch features.
        sampling_ratio: Share of rows kept.
        should_stop: Called every ``check_every`` iterations; ``True`` aborts with :class:`CoresetInterruptedError`.
        check_every: Iterations between two ``should_stop`` calls.
        projected: Already projected features (to compare samplers on the same projection).

    Raises:
        ValueError: When the ratio keeps no row.
        CoresetInterruptedError: When ``should_stop`` returned ``True``.
    """
    count = int(embedding.shape[0] * sampling_ratio)
    if count <= 0:
        msg = f"sampling_ratio {sampling_ratio} keeps no row of {embedding.shape[0]}; raise it."
        raise ValueError(msg)
    features = project(embedding) if projected is None else projected
    squared_norms = features.square().sum(dim=1)
    nearest = torch.full_like(squared_norms, float("inf"))
    index = int(squared_norms.argmax())
    chosen = torch.empty(count, dtype=torch.long)
    for step in range(count):
        chosen[step] = index
        distances = squared_norms - 2 * (features @ features[index]) + squared_norms[index]
        torch.minimum(nearest, distances.clamp_(min=0), out=nearest)
        nearest[index] = 0
        index = int(nearest.argmax())
        if should_stop is not None and step % check_every == 0 and should_stop():
            msg = f"Coreset selection stopped on request after {step + 1} of {count} centers."
            raise CoresetInterruptedError(msg)
    return CoresetSelection(chosen, float(nearest.max().sqrt()))

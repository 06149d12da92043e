"""Benchmark: PatchCore coreset selection, anomalib's ``KCenterGreedy`` against our ``greedy_coreset``.

Both run the whole selection (random projection included) on the same patch features and report seconds and the
coverage radius in the original feature space (the largest distance from any patch to its nearest kept patch:
lower is better, and equal radii mean equal coverage). Features are either random Gaussian ones of a given size or
the real ones of a PatchCore fit on the synthetic default:

    python benchmarks/coreset_speed.py --patches 100000 --dims 384 --ratio 0.01
    python benchmarks/coreset_speed.py --synthetic --size 256 --ratio 0.01
"""

from __future__ import annotations

import argparse
import time

import torch
from anomalib.models.components.sampling import KCenterGreedy

from xray_anomalib.models.components.coreset import greedy_coreset


def coverage_radius(embedding: torch.Tensor, kept: torch.Tensor, chunk: int = 8192) -> float:
    """Largest distance from a row of ``embedding`` to its nearest row of ``kept``."""
    return max(torch.cdist(part, kept).min(dim=1).values.max().item() for part in embedding.split(chunk))


def synthetic_patch_features(size: int) -> torch.Tensor:
    """Patch features PatchCore (resnet18, random weights) stores for the training films of the synthetic default."""
    from anomalib.engine import Engine

    from xray_anomalib.data import Mura
    from xray_anomalib.registry import build_model

    model = build_model("patchcore", backbone="resnet18", pre_trained=False, image_size=size)
    datamodule = Mura(root=None, image_size=size, train_batch_size=8, eval_batch_size=8)
    datamodule.setup()
    engine = Engine(max_epochs=1, limit_val_batches=0, enable_progress_bar=False, logger=False)
    model.fit = lambda: None  # keep the raw patch features: no selection inside Lightning's loop
    engine.fit(model=model, datamodule=datamodule)
    return torch.vstack(model.model.embedding_store)


def main() -> None:
    """Time both samplers and print a Markdown row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patches", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--ratio", type=float, default=0.01)
    parser.add_argument("--synthetic", action="store_true", help="real PatchCore features of the synthetic default")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.synthetic:
        embedding = synthetic_patch_features(args.size)
        source = f"synthetic default, {args.size} px"
    else:
        embedding = torch.randn(args.patches, args.dims)
        source = "Gaussian"
    start = time.perf_counter()
    stock = KCenterGreedy(embedding=embedding, sampling_ratio=args.ratio).sample_coreset()
    stock_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ours = embedding[greedy_coreset(embedding, args.ratio).indices]
    ours_seconds = time.perf_counter() - start
    columns = ["features", "patches x dims", "ratio", "kept", "anomalib s", "ours s", "speed-up"]
    columns += ["anomalib radius", "ours radius"]
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    cells = [
        source,
        f"{embedding.shape[0]} x {embedding.shape[1]}",
        args.ratio,
        len(ours),
        f"{stock_seconds:.1f}",
        f"{ours_seconds:.1f}",
        f"{stock_seconds / ours_seconds:.1f}x",
        f"{coverage_radius(embedding, stock):.3f}",
        f"{coverage_radius(embedding, ours):.3f}",
    ]
    print("| " + " | ".join(str(cell) for cell in cells) + " |")


if __name__ == "__main__":
    main()

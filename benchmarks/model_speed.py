"""Benchmark: training time per epoch and inference ms/image (torch eager vs OpenVINO) per model and size.

Run from the repository root; it writes a synthetic dataset at each size under ``--work`` and prints a Markdown
table (record it in docs/benchmarks.md):

    python benchmarks/model_speed.py --sizes 256 512 --models cae padim patchcore
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import openvino as ov
import torch
from anomalib.deploy import ExportType
from anomalib.engine import Engine

from xray_anomalib.data import Mura
from xray_anomalib.registry import build_model

MODEL_ARGS = {
    "cae": {"channels": [16, 32, 64, 128, 256], "bottleneck_channels": 512, "score": "topk"},
    "padim": {"backbone": "resnet18", "pre_trained": False},
    "patchcore": {"backbone": "resnet18", "pre_trained": False, "coreset_sampling_ratio": 0.01},
    "blendseg": {},  # its defaults: channels [8, 16, 32, 64, 128]
    "stfpm": {},  # the packaged EfficientNet-Lite0 teacher
    "supersimplenet": {},  # the packaged EfficientNet-Lite0 features
    "fastflow": {"backbone": "tf_efficientnet_lite0"},  # the packaged EfficientNet-Lite0 (its config's)
    "reverse_distillation": {"backbone": "tf_efficientnet_lite0", "layers": ["blocks.1", "blocks.2", "blocks.4"]},
    "draem": {},
}


def ms_per_image(run: callable, image: torch.Tensor, repeats: int) -> float:
    """Mean milliseconds of ``run(image)`` over ``repeats`` calls after one warm-up call."""
    run(image)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        run(image)
    return (time.perf_counter() - start) / repeats * 1000


def inference_ms(
    model: torch.nn.Module,
    xml: Path,
    image: torch.Tensor,
    hand_mask: torch.Tensor,
    repeats: int,
    hints: tuple[str, ...] = ("f32", "bf16"),
) -> dict[str, float]:
    """Milliseconds per film of the torch module (``torch``) and of its OpenVINO export at each precision hint."""
    core = ov.Core()
    graph = core.read_model(str(xml))
    takes_mask = len(graph.inputs) == 2  # our plugins take (film, hand mask)
    inputs = (image, hand_mask) if takes_mask else (image,)
    # one film at a time: a static batch lets OpenVINO pick kernels for that shape (about 30% faster here)
    graph.reshape({port.get_any_name(): list(tensor.shape) for port, tensor in zip(graph.inputs, inputs, strict=True)})
    model.eval()
    with torch.no_grad():
        timings = {"torch": ms_per_image(lambda _: model(*inputs), image, repeats)}
    arrays = [tensor.numpy() for tensor in inputs]
    for hint in hints:
        compiled = core.compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": hint})
        timings[hint] = ms_per_image(lambda _, net=compiled: net(arrays), image, repeats)
    return timings


def timing_cells(timings: dict[str, float]) -> list[str]:
    """Table cells of :func:`inference_ms`'s timings: torch, OpenVINO f32 and bf16 ms, and the f32 speed-up."""
    torch_ms, f32_ms = timings["torch"], timings["f32"]
    return [f"{torch_ms:.1f}", f"{f32_ms:.1f}", f"{timings['bf16']:.1f}", f"{torch_ms / f32_ms:.1f}x"]


def benchmark(name: str, size: int, work: Path, patients: int, repeats: int) -> dict:
    """Train one epoch, export, and time inference of one model at one size."""
    datamodule = Mura(
        root=None,
        synthetic_root=work / f"synthetic_{size}",
        synthetic_patients=patients,
        synthetic_image_size=size,
        image_size=size,
        train_batch_size=8,
        eval_batch_size=8,
    )
    model = build_model(name, image_size=size, **MODEL_ARGS[name])
    engine = Engine(max_epochs=1, default_root_dir=work / "results", enable_progress_bar=False, logger=False)
    start = time.perf_counter()
    engine.fit(model=model, datamodule=datamodule)
    train_seconds = time.perf_counter() - start
    xml = engine.export(model=model, export_type=ExportType.OPENVINO, export_root=work / f"export_{name}_{size}")
    batch = next(iter(datamodule.test_dataloader()))
    image, hand_mask = batch.image[:1], batch.hand_mask[:1].unsqueeze(1).float()
    timings = inference_ms(model, xml, image, hand_mask, repeats)
    return {
        "model": name,
        "size": size,
        "train_images": len(datamodule.train_data),
        "epoch_s": train_seconds,
        "timings": timings,
    }


def main() -> None:
    """Parse arguments, run the grid, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--models", nargs="+", default=list(MODEL_ARGS))
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="xray_speed_"))
    print(f"torch threads: {torch.get_num_threads()}")
    columns = [
        "model",
        "px",
        "train films",
        "epoch / fit (s)",
        "torch ms/img",
        "OV f32 ms/img",
        "OV bf16 ms/img",
        "f32 speed-up",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for size in args.sizes:
        for name in args.models:
            row = benchmark(name, size, work, args.patients, args.repeats)
            cells = [row["model"], row["size"], row["train_images"], f"{row['epoch_s']:.1f}"]
            cells += timing_cells(row["timings"])
            print("| " + " | ".join(str(cell) for cell in cells) + " |", flush=True)


if __name__ == "__main__":
    main()

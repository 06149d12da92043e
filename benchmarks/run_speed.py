"""Benchmark: inference ms per film of a finished grid's trained models, torch eager and their OpenVINO export.

The grid's runner records torch milliseconds only; this loads the checkpoints of one variant and seed of a grid
(``xray-anomalib benchmark``), exports each to OpenVINO and times both on one of the run's own test films at a time
(`model_speed.py`'s timing: static batch of one, a warm-up call, then ``--repeats`` calls; OpenVINO at the ``f32``
and ``bf16`` precision hints). It also prints the largest difference between the torch and the OpenVINO f32
image scores of the films it timed. Run with nothing else on the machine and record the table in docs/benchmarks.md:

    python benchmarks/run_speed.py --config configs/benchmark/fracatlas_coreset.yaml --variant full+whole+fill \
        --seed 0 --models patchcore_s8_16 patchcore_bank1pc patchcore_bank4pc
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import openvino as ov
import torch
from anomalib.deploy import ExportType
from anomalib.engine import Engine
from model_speed import inference_ms, timing_cells

from xray_anomalib.benchmark.config import BenchmarkConfig
from xray_anomalib.benchmark.runner import Run, checkpoint_of, datamodule_for
from xray_anomalib.registry import get_model_spec


def score_difference(model: torch.nn.Module, xml: Path, films: torch.Tensor, hand_masks: torch.Tensor) -> float:
    """Largest absolute difference between torch's and OpenVINO f32's image scores, one film at a time."""
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    takes_mask = len(compiled.inputs) == 2  # our plugins take (film, hand mask)
    largest = 0.0
    with torch.no_grad():
        for film, hand_mask in zip(films.split(1), hand_masks.split(1), strict=True):
            inputs = (film, hand_mask) if takes_mask else (film,)
            result = {port.get_any_name(): value for port, value in compiled([x.numpy() for x in inputs]).items()}
            difference = model(*inputs).pred_score.flatten() - torch.as_tensor(result["pred_score"]).flatten()
            largest = max(largest, difference.abs().max().item())
    return largest


def main() -> None:
    """Time each listed model of the variant and seed and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", required=True, help="model labels of the grid")
    parser.add_argument("--films", type=int, default=8, help="test films compared for the score difference")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    config = BenchmarkConfig.from_yaml(args.config)
    variant = next(v for v in config.variants if v.label == args.variant)
    models = {m.display: m for m in config.models}
    work = Path(tempfile.mkdtemp(prefix="xray_run_speed_"))
    columns = ["model", "px", "torch ms/film", "OV f32 ms/film", "OV bf16 ms/film", "f32 speed-up"]
    columns.append("largest score diff")
    print(f"torch threads: {torch.get_num_threads()}")
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for label in args.models:
        run = Run(models[label], variant, args.seed)
        size = config.image_size_of(run.model)
        datamodule = datamodule_for(config, variant, args.seed, size)
        datamodule.setup()
        batch = next(iter(datamodule.test_dataloader()))
        model = get_model_spec(run.model.name).load().load_from_checkpoint(checkpoint_of(run, config)).eval()
        xml = Engine(logger=False).export(model=model, export_type=ExportType.OPENVINO, export_root=work / label)
        films, hand_masks = batch.image[: args.films], batch.hand_mask[: args.films].unsqueeze(1).float()
        timings = inference_ms(model, xml, films[:1], hand_masks[:1], args.repeats)
        cells = [label, size, *timing_cells(timings), f"{score_difference(model, xml, films, hand_masks):.1e}"]
        print("| " + " | ".join(str(cell) for cell in cells) + " |", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark: inference ms per film of a finished grid's trained models, torch eager and their OpenVINO export.

The grid's runner records torch milliseconds only; this loads the checkpoints of one variant and seed of a grid
(``xray-anomalib benchmark``), exports each to OpenVINO and times both on one of the run's own test films at a time
(`model_speed.py`'s timing: static batch of one, a warm-up call, then ``--repeats`` calls; OpenVINO at the ``f32``
and ``bf16`` precision hints). It also prints the largest difference between the torch and the OpenVINO f32
image scores of ``--films`` test films, both scored through ``xray-anomalib predict``'s runners. Run with nothing
else on the machine and record the table in docs/benchmarks.md:

    python benchmarks/run_speed.py --config configs/benchmark/fracatlas_coreset.yaml --variant full+whole+fill \
        --seed 0 --models patchcore_s8_16 patchcore_bank1pc patchcore_bank4pc
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from grid_runs import runs_or_exit
from model_speed import inference_ms, timing_cells

from xray_anomalib.benchmark.config import BenchmarkConfig, VariantConfig
from xray_anomalib.benchmark.runner import checkpoint_of, datamodule_for
from xray_anomalib.deploy.backends import OpenVinoRunner, TorchRunner, load_checkpoint


def test_films(
    config: BenchmarkConfig, variant: VariantConfig, seed: int, size: int, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` test films of the variant and seed at ``size``, with their hand masks (``N x 1 x S x S``)."""
    datamodule = datamodule_for(config, variant, seed, size)
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    return batch.image[:count], batch.hand_mask[:count].unsqueeze(1).float()


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
    runs = runs_or_exit(parser, config, args.variant, args.seed, args.models)
    work = Path(tempfile.mkdtemp(prefix="xray_run_speed_"))
    columns = ["model", "px", "torch ms/film", "OV f32 ms/film", "OV bf16 ms/film", "f32 speed-up"]
    columns.append("largest score diff")
    print(f"torch threads: {torch.get_num_threads()}")
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    films = {}  # image size -> test films and hand masks (a grid may give models their own size)
    for run in runs:
        label = run.model.display
        size = config.image_size_of(run.model)
        if size not in films:
            films[size] = test_films(config, run.variant, args.seed, size, args.films)
        images, hand_masks = films[size]
        module, settings = load_checkpoint(checkpoint_of(run, config))
        xml = module.to_openvino(work / label)  # the export xray-anomalib predict makes of a checkpoint
        timings = inference_ms(module, xml, images[:1], hand_masks[:1], args.repeats)
        arrays = images.numpy(), hand_masks.numpy()
        exported = OpenVinoRunner(xml, settings)(*arrays).scores
        eager = TorchRunner(module, settings.takes_hand_mask)(*arrays).scores
        cells = [label, size, *timing_cells(timings), f"{np.abs(exported - eager).max():.1e}"]
        print("| " + " | ".join(str(cell) for cell in cells) + " |", flush=True)


if __name__ == "__main__":
    main()

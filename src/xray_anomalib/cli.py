"""``xray-anomalib``: the commands anomalib's own CLI does not cover.

Training, testing and export go through ``anomalib train|test|export --config configs/<model>.yaml``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from jsonargparse import ArgumentParser, Namespace
from jsonargparse.typing import NonNegativeInt, PositiveInt

from xray_anomalib.data.mura import MuraLayoutError, read_mura_index
from xray_anomalib.data.split import (
    SplitError,
    SplitMode,
    format_split_summary,
    patient_wise_split,
    summarize_split,
    write_manifest,
)
from xray_anomalib.io.films import MAX_FILM_SIDE
from xray_anomalib.io.text import read_yaml

if TYPE_CHECKING:
    import pandas as pd

IMPORT_NOISE = (
    "Importing from timm.models.layers is deprecated",
    "The anomalib.models.components.dinov2 package is deprecated",
)
"""Deprecation warnings anomalib 2.7 raises on its own imports (nothing a user can act on); the CLI hides them."""


def _split(args: Namespace) -> None:
    parts = ["train", "valid"] if args.mode == SplitMode.MURA.value else args.mura_parts
    index = read_mura_index(args.root, body_parts=args.body_parts, mura_parts=parts)
    manifest = patient_wise_split(index, seed=args.seed, mode=args.mode)
    print(format_split_summary(summarize_split(manifest)))
    if args.out:
        print(f"manifest: {write_manifest(manifest, args.out)}")


def _synth(args: Namespace) -> None:
    from xray_anomalib.data.synthetic import ANOMALY_MASK_DIR, write_synthetic_mura
    from xray_anomalib.visualization.contact_sheet import contact_sheet

    root = write_synthetic_mura(args.root, n_patients=args.patients, seed=args.seed, longest_side=args.size)
    index = read_mura_index(root, mura_parts=["train", "valid"])
    positives = int(index.drop_duplicates("study_id")["study_label"].sum())
    print(
        f"{root}: {len(index)} films, {index['study_id'].nunique()} studies ({positives} positive), "
        f"{index['patient_id'].nunique()} patients"
    )
    if args.sheet:
        sample = index.groupby("study_label", group_keys=False).head(12)
        masks = [
            root / ANOMALY_MASK_DIR / rel if label else None
            for rel, label in zip(sample["rel_path"], sample["study_label"], strict=True)
        ]
        print(f"contact sheet: {contact_sheet(sample['image_path'].tolist(), args.sheet, masks=masks)}")


def _paint(args: Namespace) -> None:
    from xray_anomalib.data.painted import TRUTH_CSV, write_painted_mura

    root = write_painted_mura(args.films, args.root, seed=args.seed, positive_patient_share=args.positive_share)
    index = read_mura_index(root, mura_parts=["train", "valid"])
    positives = int(index.drop_duplicates("study_id")["study_label"].sum())
    print(
        f"{root}: {len(index)} films, {index['study_id'].nunique()} studies ({positives} positive, painted), "
        f"{index['patient_id'].nunique()} patients; truth in {root / TRUTH_CSV}"
    )


def _preprocess(args: Namespace) -> None:
    from anomalib.data import AnomalibDataModule

    from xray_anomalib.data import XrayDataModule

    config = read_yaml(args.config, example="configs/cae.yaml")
    section = config.get("data") if isinstance(config, dict) else None
    if section is None:
        msg = f"{args.config} has no 'data' section; expected an anomalib config with data: {{class_path: ...}}."
        raise ValueError(msg)
    parser = ArgumentParser()
    parser.add_subclass_arguments(AnomalibDataModule, "data")
    datamodule = parser.instantiate_classes(parser.parse_object({"data": section})).data
    if not isinstance(datamodule, XrayDataModule) or datamodule.preprocessing is None:
        msg = f"{args.config}: data must be xray_anomalib.data.Mura with init_args.preprocessing set."
        raise ValueError(msg)
    datamodule.setup()
    records = cast("pd.DataFrame", datamodule.preprocessing_records)  # setup() fills them when preprocessing is set
    films = records.drop_duplicates("film_path")
    print(f"{len(films)} films -> {len(records)} hand crops; {len(datamodule.rejected_films)} unreadable films")
    for status, count in films["status"].value_counts().items():
        print(f"  {status}: {count}")
    for reason, count in films.loc[films["status"] == "fallback", "reason"].value_counts().items():
        print(f"    {count} x {reason}")
    if args.out:
        datamodule.save_manifest(args.out)
        print(f"records: {args.out}")


def _sheet(args: Namespace) -> None:
    from xray_anomalib.film_pipeline import PreprocessingSettings
    from xray_anomalib.visualization.contact_sheet import preprocessing_sheet

    films = [path for item in args.films for path in (sorted(item.glob("*.*")) if item.is_dir() else [item])]
    settings = PreprocessingSettings(args.variant, split_hands=args.split_hands, fills_film=tuple(args.fills_film))
    out = preprocessing_sheet(films[: args.limit], args.out, settings, body_part=args.body_part)
    print(f"preprocessing sheet of {min(len(films), args.limit)} films: {out}")


def _models(args: Namespace) -> None:
    from xray_anomalib.registry import list_models

    del args
    specs = list_models()
    width = max(len(spec.name) for spec in specs)
    for spec in specs:
        print(f"{spec.name:<{width}}  {spec.class_path}  [{spec.source}]  {spec.summary}")


def _benchmark(args: Namespace) -> int:
    from xray_anomalib.benchmark import BenchmarkConfig, collect_results, run_benchmark, write_report

    config = BenchmarkConfig.from_yaml(args.config)
    if args.report_only and not (config.output / "runs").is_dir():
        print(f"No runs of {args.config} in {config.output}: run the benchmark before --report-only.", file=sys.stderr)
        return 2
    results = collect_results(config) if args.report_only else run_benchmark(config, args.seeds)
    print(f"runs: {config.output / 'runs.csv'}\nreport: {write_report(results, config)}")
    failed = results[results["status"] != "ok"] if len(results) else results
    if len(failed):
        print(f"{len(failed)} run(s) failed; their errors are in the report. Run again to retry them.", file=sys.stderr)
        return 1
    return 0


def _predict(args: Namespace) -> int:
    from xray_anomalib.deploy import Predictor, predict_folder

    predictor = Predictor(
        args.model,
        backend=args.backend,
        device=args.device,
        export_dir=args.export_dir,
        max_film_side=args.max_film_side or None,
        body_part=args.body_part,
    )
    summary = predict_folder(
        predictor,
        args.input,
        args.output,
        aggregation=args.aggregation,
        workers=args.workers,
        labels=args.labels,
        deidentify=args.deidentify,
    )
    rate = summary.films / summary.seconds if summary.seconds else 0.0
    print(
        f"{summary.films} films: {summary.scored} scored, {summary.failed} failed, {summary.skipped} other files "
        f"skipped ({rate:.1f} films/s)\nreport: {summary.report}\nfilms: {Path(args.output) / 'films.csv'}"
    )
    for level in summary.agreements:
        print("; ".join(f"{name}: {value}" for name, value in level.lines().items()))
    if summary.failed:
        print(
            f"{summary.failed} film(s) could not be scored; their status and reason are in films.csv.", file=sys.stderr
        )
        return 1
    return 0


def build_parser() -> ArgumentParser:
    """The ``xray-anomalib`` argument parser with its subcommands."""
    parser = ArgumentParser(prog="xray-anomalib", description=__doc__)
    commands = parser.add_subcommands(dest="command")

    split = ArgumentParser(description="Draw a patient-wise split from MURA's CSVs (no pixels needed) and show it.")
    split.add_argument("root", type=Path, help="MURA-v1.1 folder with the CSVs (or the train/valid folders).")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--mode", choices=[mode.value for mode in SplitMode], default=SplitMode.PAPER.value)
    split.add_argument("--body-parts", nargs="+", default=["XR_HAND"], help="Body parts, or 'all'.")
    split.add_argument("--mura-parts", nargs="+", default=["train"], help="MURA parts read in 'paper' mode.")
    split.add_argument("--out", type=Path, default=None, help="Write the manifest CSV here.")
    commands.add_subcommand("split", split)

    synth = ArgumentParser(description="Write the synthetic MURA-like dataset (the embedded default).")
    synth.add_argument("root", type=Path)
    synth.add_argument("--patients", type=PositiveInt, default=240)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=PositiveInt, default=256, help="Longest side of the films in pixels.")
    synth.add_argument("--sheet", type=Path, default=None, help="Also save a contact sheet PNG here.")
    commands.add_subcommand("synth", synth)

    paint = ArgumentParser(description="Lay real normal films out as MURA and paint anomalies into positive studies.")
    paint.add_argument("films", type=Path, help="Folder of normal hand films (e.g. ../shared/data/rsna-hands/images).")
    paint.add_argument("root", type=Path, help="Destination MURA-v1.1-style folder.")
    paint.add_argument("--seed", type=int, default=0)
    paint.add_argument("--positive-share", type=float, default=0.3, help="Share of patients with a positive study.")
    commands.add_subcommand("paint", paint)

    preprocess = ArgumentParser(description="Run (or resume) the cached offline preprocessing of a config's data.")
    preprocess.add_argument("--config", type=Path, required=True, help="An anomalib YAML with a Mura data section.")
    preprocess.add_argument("--out", type=Path, default=None, help="Folder for the split and the per-film records.")
    commands.add_subcommand("preprocess", preprocess)

    sheet = ArgumentParser(description="Save a PNG of films through the pipeline: original | crop | mask | final.")
    sheet.add_argument("films", type=Path, nargs="+", help="Film files or folders of films.")
    sheet.add_argument("--out", type=Path, required=True)
    sheet.add_argument("--variant", choices=["raw", "cropped", "full"], default="full")
    sheet.add_argument("--limit", type=PositiveInt, default=24, help="At most this many films.")
    sheet.add_argument("--split-hands", type=bool, default=True, help="One crop per hand on films with two.")
    sheet.add_argument(
        "--fills-film", nargs="*", default=[], help="Body parts whose body fills the film (e.g. hip shoulder)."
    )
    sheet.add_argument("--body-part", default="", help="The films' body part, e.g. hip (see --fills-film).")
    commands.add_subcommand("preprocess-sheet", sheet)

    commands.add_subcommand("models", ArgumentParser(description="List the registered models."))

    benchmark = ArgumentParser(description="Run (or continue) a benchmark grid and write its report and plots.")
    benchmark.add_argument("--config", type=Path, required=True, help="A benchmark YAML (configs/benchmark/).")
    benchmark.add_argument("--report-only", action="store_true", help="Only rebuild the report from finished runs.")
    benchmark.add_argument(
        "--seeds",
        type=list[int] | None,
        default=None,
        help="Run only these of the grid's seeds, e.g. --seeds [1,2] (a long grid in parts); the report covers every "
        "finished run.",
    )
    commands.add_subcommand("benchmark", benchmark)

    predict = ArgumentParser(description="Score new films with a trained model; write overlays, CSVs and a report.")
    predict.add_argument(
        "--model", type=Path, required=True, help="Run folder, OpenVINO export folder, model.xml or a .ckpt."
    )
    predict.add_argument("--input", type=Path, required=True, help="A film, a folder of films or a MURA study folder.")
    predict.add_argument("--output", type=Path, default=Path("predictions"), help="Folder for the report.")
    predict.add_argument("--backend", choices=["openvino", "torch"], default="openvino")
    predict.add_argument("--aggregation", choices=["max", "mean"], default="max", help="Film scores -> study score.")
    predict.add_argument("--device", default="CPU", help="OpenVINO device.")
    predict.add_argument(
        "--workers", type=PositiveInt, default=2, help="Threads reading and preprocessing films ahead."
    )
    predict.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="A CSV of path,label (paths relative to --input) giving the films' truth; MURA study names give it "
        "without one.",
    )
    predict.add_argument(
        "--deidentify",
        type=bool,
        default=True,
        help="Show DICOM films under pseudonyms of their patient and study ids (identities.csv maps them back); "
        "'false' shows the ids. Names and birth dates are never read.",
    )
    predict.add_argument("--export-dir", type=Path, default=None, help="Where a checkpoint is exported if needed.")
    predict.add_argument(
        "--body-part",
        default="",
        help="The films' body part as the training data named it (e.g. hip): films of a part the model's "
        "preprocessing lists in fills_film are kept whole, as they were in training.",
    )
    predict.add_argument(
        "--max-film-side",
        type=NonNegativeInt,
        default=MAX_FILM_SIDE,
        help="Films with a longer side are reduced to it on reading (bounds memory); 0 keeps every film as it is.",
    )
    commands.add_subcommand("predict", predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``xray-anomalib``; bad input ends with a one-line message and exit code 2."""
    for message in IMPORT_NOISE:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "split": _split,
        "synth": _synth,
        "paint": _paint,
        "preprocess": _preprocess,
        "preprocess-sheet": _sheet,
        "models": _models,
        "benchmark": _benchmark,
        "predict": _predict,
    }
    try:
        code = handlers[args.command](args[args.command])
    except (OSError, MuraLayoutError, SplitError, ValueError) as error:
        print(f"xray-anomalib {args.command}: error: {error}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark grid: a tiny grid end to end, resume, a failing run recorded, config errors."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from xray_anomalib.benchmark import BenchmarkConfig, BenchmarkConfigError
from xray_anomalib.benchmark.report import TICK_LABEL_WIDTH, wrapped_label
from xray_anomalib.cli import main

REPO = Path(__file__).resolve().parents[1]
EMA = "xray_anomalib.callbacks.ExponentialWeightAveraging"


def _config(tmp_path: Path, **changes: object) -> Path:
    config = yaml.safe_load((REPO / "configs" / "benchmark" / "tiny.yaml").read_text())
    config.update(changes)
    path = tmp_path / "benchmark.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_tiny_grid_runs_resumes_and_records_a_failed_run(synthetic_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    config = yaml.safe_load((REPO / "configs" / "benchmark" / "tiny.yaml").read_text())
    data = {**config["data"], "root": str(synthetic_root), "cache_dir": str(tmp_path / "cache")}
    tiny = {"channels": [8, 16], "bottleneck_channels": 16}
    broken = {"name": "cae", "label": "cae_kld", "init_args": tiny, "scores": ["kld"]}
    second = {
        "name": "cae",
        "label": "cae_b",
        "init_args": {**tiny, "score": "topk", "top_k": 5},
        "max_epochs": 3,
        "kept_by": "val_pixel_AUROC_in_body",
    }
    ensemble = {"name": "ensemble", "init_args": {"members": ["cae", "cae_b"]}, "scores": ["combined"]}
    models = [*config["models"], second, ensemble, broken]
    path = _config(tmp_path, output=str(output), seeds=[0], data=data, models=models)
    assert main(["benchmark", "--config", str(path)]) == 1  # one run failed, the others finished
    runs = pd.read_csv(output / "runs.csv")
    finished = runs[runs["status"] == "ok"]
    assert set(finished["model"]) == {"cae", "padim", "cae_b", "ensemble"}
    assert set(finished.loc[finished["model"] == "ensemble", "score"]) == {"combined"}
    train_s = finished.groupby(["model", "variant"])["train_s"].first()
    assert (train_s["ensemble"] > train_s["cae"] + train_s["cae_b"]).all()  # its members' training counts
    assert set(finished["variant"]) == {"raw", "full+eq"}
    assert set(finished.loc[finished["model"] == "cae", "score"]) == {"mse", "l1", "topk"}
    assert finished["image_auroc"].between(0, 1).all() and finished["pixel_auroc"].between(0, 1).all()
    assert finished["val_pixel_auroc_in_body"].between(0, 1).all()  # localisation on the validation films too
    failed = runs[runs["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("no score").all()
    report = (output / "report.md").read_text()
    assert "| cae | topk |" in report and "## Failed runs" in report
    assert "## Intervals and paired comparisons" in report and "vs padim default" in report  # against the baseline
    assert (output / "auroc_bars.png").stat().st_size > 0 and (output / "roc_curves.png").stat().st_size > 0
    assert (output / "manifests" / "seed0" / "split_manifest.csv").is_file()
    kept_by_map = json.loads((output / "runs" / "cae_b__raw__seed0" / "result.json").read_text())
    history = [epoch["pixel_AUROC_in_body"] for epoch in kept_by_map["validation_by_epoch"]]
    assert len(history) == 3 and kept_by_map["kept_epoch"] == history.index(max(history)) + 1  # kept by its figure
    result = next((output / "runs").glob("cae__raw__seed0/result.json"))
    written = result.stat().st_mtime_ns
    assert main(["benchmark", "--config", str(path)]) == 1  # only the failed runs are tried again
    assert result.stat().st_mtime_ns == written
    padim = output / "runs" / "padim__raw__seed0" / "result.json"
    padim_written = padim.stat().st_mtime_ns
    combined = output / "runs" / "ensemble__raw__seed0" / "result.json"
    combined_written = combined.stat().st_mtime_ns
    changed = yaml.safe_load(path.read_text())
    changed["models"][0]["init_args"]["mask_margin"] = 1
    path.write_text(yaml.safe_dump(changed))
    main(["benchmark", "--config", str(path), "--report-only"])
    assert "cae" not in set(pd.read_csv(output / "runs.csv")["model"])  # results of the old settings do not count
    report = (output / "report.md").read_text()
    assert "## Runs without a result" in report and "- cae__raw__seed0" in report  # and the report says so
    assert main(["benchmark", "--config", str(path)]) == 1  # the changed model runs again, the others do not
    assert json.loads(result.read_text())["settings"]["model"]["init_args"]["mask_margin"] == 1
    assert padim.stat().st_mtime_ns == padim_written
    assert combined.stat().st_mtime_ns != combined_written  # a member changed, so the ensemble ran again
    assert {"cae", "padim"} <= set(pd.read_csv(output / "runs.csv")["model"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"modelz": []}, "unknown key"),
        ({"variants": [{"variant": "cropped-ish"}]}, "variants\\[0\\]"),
        ({"data": {"seed": 3}}, "must not set"),
        ({"models": [{"name": "cae"}, {"name": "cae"}]}, "unique"),
        (
            {"models": [{"name": "cae"}, {"name": "ensemble", "init_args": {"members": ["cae", "vae"]}}]},
            r"models\[1\]\.init_args: \['vae'\] name no model listed before it \(\['cae'\]\)",
        ),
        (
            {"models": [{"name": "cae"}, {"name": "ensemble", "init_args": {"members": ["cae"]}}]},
            r"models\[1\]\.init_args\.members: an ensemble's members are two or more labels",
        ),
        (
            {
                "models": [
                    {"name": "cae"},
                    {"name": "vae"},
                    {"name": "ensemble", "init_args": {"members": ["cae", "vae"], "method": 3}},
                ]
            },
            r"models\[2\]\.init_args\.method: expected str, got 3",
        ),
        ({"seeds": "abc"}, r"seeds: expected list\[int\], got 'abc'"),
        ({"output": 123}, "output: expected Path, got 123"),
        ({"models": [{"name": "cae", "max_epochs": "five"}]}, r"models\[0\]\.max_epochs: expected int, got 'five'"),
        ({"models": [{"name": "caee"}]}, r"models\[0\]\.name: Unknown model 'caee'; registered models: .*cae"),
        ({"models": [{"name": "cae", "init_args": {"chanels": [8]}}]}, r"Cae takes no argument 'chanels'; .*channels"),
        ({"models": [{"name": "cae", "init_args": {"lr": "fast"}}]}, r"init_args\.lr: expected float, got 'fast'"),
        ({"data": {"root": None, "image_size": "big"}}, r"data\.image_size: expected int, got 'big'"),
        ({"data": {"class_path": "xray_anomalib.data.Nope"}}, r"data\.class_path: cannot import"),
        ({"variants": [{"variant": "raw", "equalize": "maybe"}]}, r"variants\[0\]\.equalize: expected bool"),
        (
            {"models": [{"name": "cae", "callbacks": [{"class_path": "xray_anomalib.callbacks.Nope"}]}]},
            r"models\[0\]\.callbacks\[0\]\.class_path: cannot import 'xray_anomalib.callbacks.Nope'",
        ),
        (
            {"models": [{"name": "cae", "callbacks": [{"init_args": {"decay": 0.9}}]}]},
            r"models\[0\]\.callbacks\[0\]: expected \{class_path: \.\.\., init_args: \{\.\.\.\}\}",
        ),
        (
            {"models": [{"name": "cae", "callbacks": [{"class_path": EMA, "init_args": {"decay": "slow"}}]}]},
            r"models\[0\]\.callbacks\[0\]\.init_args\.decay: expected float, got 'slow'",
        ),
        (
            {"models": [{"name": "cae", "kept_by": "val_loss"}]},
            r"models\[0\]: 'val_loss' is not a valid KeptBy; expected one of val_image_AUROC, val_pixel_AUROC_in_body",
        ),
    ],
)
def test_config_errors_name_the_problem(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(BenchmarkConfigError, match=message) as error:
        BenchmarkConfig.from_yaml(_config(tmp_path, **changes))
    assert "\n" not in str(error.value)
    assert str(error.value).startswith(str(tmp_path / "benchmark.yaml"))


def test_config_yaml_syntax_and_folder_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmodels: [\n  - a: b\n")
    assert main(["benchmark", "--config", str(broken)]) == 2
    assert main(["benchmark", "--config", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"xray-anomalib benchmark: error: {broken}: not valid YAML at line 3, column 3 " + (
        "(expected the node content, but found '-')."
    )
    assert lines[1].endswith(f"{tmp_path} is a folder; expected a YAML file such as configs/benchmark/quick.yaml.")


def test_missing_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["benchmark", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert f"error: Config not found: {tmp_path / 'nope.yaml'}." in capsys.readouterr().err


def test_report_before_any_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _config(tmp_path, output=str(tmp_path / "never_ran"))
    assert main(["benchmark", "--config", str(path), "--report-only"]) == 2
    assert "run the benchmark before --report-only" in capsys.readouterr().err


def test_seeds_run_part_of_a_grid_and_an_unknown_seed_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from xray_anomalib.benchmark import runner

    def refuse(run: runner.Run, config: BenchmarkConfig, folder: Path) -> dict:
        raise RuntimeError(f"not trained in this test: {run.run_id}")

    monkeypatch.setattr(runner, "execute", refuse)
    output = tmp_path / "out"
    path = _config(tmp_path, output=str(output))
    results = runner.run_benchmark(BenchmarkConfig.from_yaml(path), seeds=[1])
    assert set(results["seed"]) == {1} and len(results) == 4  # 2 models x 2 variants of seed 1, none of seed 0
    assert sorted(path.name for path in (output / "runs").iterdir()) == [
        "cae__full+eq__seed1",
        "cae__raw__seed1",
        "padim__full+eq__seed1",
        "padim__raw__seed1",
    ]
    assert main(["benchmark", "--config", str(path), "--seeds", "[1, 7]"]) == 2
    message = "benchmark: error: Grid tiny has seeds [0, 1]; asked to run seeds [7], which it does not have."
    assert message in capsys.readouterr().err


def test_a_run_s_settings_name_kept_by_and_callbacks_only_when_set(tmp_path: Path) -> None:
    from xray_anomalib.benchmark.runner import grid, run_settings

    averaging = [{"class_path": EMA, "init_args": {"decay": 0.99}}]
    models = [{"name": "cae"}, {"name": "vae", "kept_by": "val_pixel_peak_hit", "callbacks": averaging}]
    config = BenchmarkConfig.from_yaml(_config(tmp_path, models=models))
    settings = {run.model.display: run_settings(run, config)["model"] for run in grid(config)}
    assert not {"kept_by", "callbacks"} & set(settings["cae"])  # runs recorded before the fields existed still count
    assert (settings["vae"]["kept_by"], settings["vae"]["callbacks"]) == ("val_pixel_peak_hit", averaging)


def test_runs_of_a_variant_and_seed_and_what_a_wrong_label_is_told(tmp_path: Path) -> None:
    from xray_anomalib.benchmark.runner import runs_of

    config = BenchmarkConfig.from_yaml(_config(tmp_path))
    runs = runs_of(config, "full+eq", 1, ["padim", "cae"])
    assert [(run.model.display, run.variant.label, run.seed) for run in runs] == [
        ("padim", "full+eq", 1),
        ("cae", "full+eq", 1),
    ]
    for variant, seed, models in (("fulll", 0, ["cae"]), ("raw", 7, ["cae"]), ("raw", 0, ["cae", "vae"])):
        with pytest.raises(ValueError, match=r"has variants \['full\+eq', 'raw'\], seeds \[0, 1\] and models"):
            runs_of(config, variant, seed, models)


@pytest.mark.parametrize("name", sorted(path.stem for path in (REPO / "configs" / "benchmark").glob("*.yaml")))
def test_shipped_benchmark_configs_are_valid_and_build_their_models(name: str) -> None:
    from xray_anomalib.registry import build_model

    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / f"{name}.yaml")
    for model in config.models:
        if model.name == "ensemble":  # its members are the grid's runs, checked when the config is read
            continue
        size = model.image_size or config.data["image_size"]
        resnet = str(model.init_args.get("backbone", "")).startswith(("resnet", "wide_resnet"))
        args = {**model.init_args, "pre_trained": False} if resnet else model.init_args  # ResNets would download
        build_model(model.name, image_size=size, **args)


def test_bar_chart_labels_break_after_underscores_within_their_width() -> None:
    label = "reverse_distillation_lite0_body_20_epochs"
    lines = wrapped_label(label).split("\n")
    assert "".join(lines) == label and len(lines) > 1
    assert all(len(line) <= TICK_LABEL_WIDTH for line in lines)
    assert all(line.endswith("_") for line in lines[:-1])
    assert wrapped_label("cae") == "cae"

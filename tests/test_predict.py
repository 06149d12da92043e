"""``xray-anomalib predict`` end to end: a trained model scores a mixed folder of films and writes its report."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from anomalib.engine import Engine
from films import DICOM_SECRETS, dicom_study, jpeg_claiming, tiff_claiming, write_dicom
from sklearn.metrics import roc_auc_score

from xray_anomalib.cli import main
from xray_anomalib.data import Mura
from xray_anomalib.data.transforms import HistogramEqualization
from xray_anomalib.deploy import DeploymentError, Predictor
from xray_anomalib.deploy.predictor import PreparedFilm
from xray_anomalib.deploy.report import FilmRow, StudyRow, write_html
from xray_anomalib.film_pipeline import PreprocessingSettings
from xray_anomalib.io.films import read_film
from xray_anomalib.registry import build_model

CHROMIUM = shutil.which("chromium")
IMAGE_SIZE = 64
EXPECTED_STATUS = {
    "negative/image1.png": "ok",
    "positive/image1.png": "ok",
    "encodings/film16.png": "ok",
    "encodings/film.jpg": "ok",
    "encodings/film.dcm": "ok",
    "bad/truncated.png": "unreadable",
    "bad/empty.png": "unreadable",
    "bad/text.png": "unreadable",
    "bad/blank.png": "no_hand",
    "bad/notes.txt": "skipped",
    "odd/image_\\xff.png": "ok",  # a name byte that is not UTF-8, written escaped
    f"odd/{'a' * 248}.png": "ok",  # a legal 252-character name
    "odd/pipe.png": "skipped",  # a FIFO: never opened (reading it would wait forever)
    "odd/bomb.tif": "unreadable",  # its header claims 30000 x 30000 pixels
    "odd/bomb.jpg": "unreadable",  # its header claims 20000 x 20000 pixels
}


def _datamodule(root: Path, cache: Path) -> Mura:
    return Mura(
        root=root,
        image_size=IMAGE_SIZE,
        mask_dir="masks",
        preprocessing=PreprocessingSettings("full"),
        film_transform=HistogramEqualization(),
        cache_dir=cache,
        train_batch_size=8,
        eval_batch_size=8,
    )


@pytest.fixture(scope="module")
def trained_run(synthetic_root: Path, preprocessed_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of a tiny CAE trained for one epoch with full preprocessing and equalisation."""
    model = build_model(
        "cae", image_size=IMAGE_SIZE, channels=[8, 16, 32], bottleneck_channels=32, score="topk", top_k=50
    )
    engine = Engine(
        max_epochs=1, default_root_dir=tmp_path_factory.mktemp("run"), enable_progress_bar=False, logger=False
    )
    engine.fit(model=model, datamodule=_datamodule(synthetic_root, preprocessed_cache))
    return Path(engine.trainer.checkpoint_callback.best_model_path).parents[2]


@pytest.fixture(scope="module")
def film_folder(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good films in four encodings, and every kind of bad input, in study folders."""
    folder = tmp_path_factory.mktemp("films")
    valid = synthetic_root / "valid" / "XR_HAND"
    for label in ("negative", "positive"):
        film = next(iter(sorted(valid.glob(f"*/study*_{label}/image1.png"))))
        (folder / label).mkdir()
        shutil.copy(film, folder / label / "image1.png")
    pixels = cv2.imread(str(folder / "negative" / "image1.png"), cv2.IMREAD_GRAYSCALE).astype(np.float64) / 255
    (folder / "encodings").mkdir()
    cv2.imwrite(str(folder / "encodings" / "film16.png"), np.round(pixels * 65535).astype(np.uint16))
    cv2.imwrite(str(folder / "encodings" / "film.jpg"), np.round(pixels * 255).astype(np.uint8))
    write_dicom(folder / "encodings" / "film.dcm", np.round(pixels * 4095), "MONOCHROME2")
    bad = folder / "bad"
    bad.mkdir()
    data = (folder / "positive" / "image1.png").read_bytes()
    (bad / "truncated.png").write_bytes(data[: len(data) // 2])
    (bad / "empty.png").write_bytes(b"")
    (bad / "text.png").write_text("not a film")
    cv2.imwrite(str(bad / "blank.png"), np.full((96, 80), 128, np.uint8))
    (bad / "notes.txt").write_text("a note")
    odd = folder / "odd"
    odd.mkdir()
    shutil.copy(folder / "negative" / "image1.png", os.fsdecode(bytes(odd) + b"/image_\xff.png"))
    shutil.copy(folder / "negative" / "image1.png", odd / f"{'a' * 248}.png")
    os.mkfifo(odd / "pipe.png")
    (odd / "bomb.tif").write_bytes(tiff_claiming(30000, 30000))
    (odd / "bomb.jpg").write_bytes(jpeg_claiming(20000, 20000))
    return folder


@pytest.fixture(scope="module")
def prediction(trained_run: Path, film_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """Exit code and output folder of ``xray-anomalib predict`` on the mixed folder (OpenVINO backend)."""
    output = tmp_path_factory.mktemp("predictions")
    code = main(["predict", "--model", str(trained_run), "--input", str(film_folder), "--output", str(output)])
    return code, output


def _on_disk(name: str) -> str:
    """The file name a ``films.csv`` name stands for (its ``\\xNN`` escapes back to the bytes they show)."""
    return os.fsdecode(name.encode("ascii").decode("unicode_escape").encode("latin-1"))


def _rows(path: Path) -> list[dict]:
    with path.open() as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
def test_predict_reports_every_film_with_its_status(prediction: tuple[int, Path], film_folder: Path) -> None:
    code, output = prediction
    assert code == 1  # some films failed
    films = {row["film"]: row for row in _rows(output / "films.csv")}
    assert {name: row["status"] for name, row in films.items()} == EXPECTED_STATUS
    assert "truncated" in films["bad/truncated.png"]["message"]
    assert "empty" in films["bad/empty.png"]["message"]
    for name, row in films.items():
        if row["status"] != "ok":
            assert row["score"] == ""
            continue
        overlay = cv2.imread(str(output / row["overlay"]))
        assert (
            overlay.shape[:2] == read_film(film_folder / _on_disk(name)).pixels.shape
        )  # the heatmap lies on the original geometry
        assert 0 <= float(row["score"]) <= 1
    # the same film in 8-bit PNG, 16-bit PNG, JPEG and 12-bit DICOM scores alike
    scores = [float(films[name]["score"]) for name in EXPECTED_STATUS if name.startswith(("negative", "encodings"))]
    assert max(scores) - min(scores) < 0.03
    assert "larger than any film" in films["odd/bomb.tif"]["message"]
    assert "not a regular file" in films["odd/pipe.png"]["message"]
    studies = {row["study"]: row for row in _rows(output / "studies.csv")}
    assert [studies["bad"][key] for key in ("films", "scored", "failed", "skipped")] == ["4", "0", "4", "1"]
    assert [studies["odd"][key] for key in ("films", "scored", "failed", "skipped")] == ["4", "2", "2", "1"]
    assert (output / "report.html").is_file()
    assert float(studies["encodings"]["score"]) == max(
        float(films[f"encodings/{n}"]["score"]) for n in ("film16.png", "film.jpg", "film.dcm")
    )


@pytest.mark.slow
def test_a_labelled_folder_gets_its_truth_roc_and_operating_point(
    trained_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    source = synthetic_root / "valid" / "XR_HAND"  # MURA study folders: their names give the truth
    assert main(["predict", "--model", str(trained_run), "--input", str(source), "--output", str(tmp_path / "a")]) == 0
    films = _rows(tmp_path / "a" / "films.csv")
    assert films and all(row["truth"] == str(int("_positive" in row["study"])) for row in films)
    studies = _rows(tmp_path / "a" / "studies.csv")
    assert all(row["truth"] == str(int(row["study"].endswith("_positive"))) for row in studies)
    truth, scores = [int(row["truth"]) for row in films], [float(row["score"]) for row in films]
    page = (tmp_path / "a" / "report.html").read_text()
    assert page.index("Scores against the truth") < page.index("<section")
    assert f"<dt>films AUROC</dt><dd>{roc_auc_score(truth, scores):.3f} [" in page
    assert 'alt="ROC curves of this folder"' in page and "films sensitivity at 90% specificity" in page

    labels = tmp_path / "labels.csv"  # a labels CSV wins over the folder names: here it says the opposite
    labels.write_text("path,label\n" + "".join(f"{row['film']},{1 - int(row['truth'])}\n" for row in films))
    arguments = ["predict", "--model", str(trained_run), "--input", str(source), "--output", str(tmp_path / "b")]
    assert main([*arguments, "--labels", str(labels)]) == 0
    flipped = _rows(tmp_path / "b" / "films.csv")
    assert [int(row["truth"]) for row in flipped] == [1 - label for label in truth]
    page = (tmp_path / "b" / "report.html").read_text()
    assert f"<dt>films AUROC</dt><dd>{roc_auc_score([1 - label for label in truth], scores):.3f} [" in page
    assert f"labels CSV {labels}" in page


@pytest.mark.slow
def test_dicom_films_are_reported_under_pseudonyms(trained_run: Path, synthetic_root: Path, tmp_path: Path) -> None:
    film = next(iter(sorted((synthetic_root / "valid" / "XR_HAND").rglob("image1.png"))))
    source = dicom_study(tmp_path / "films", np.round(read_film(film).pixels * 4095))
    (source / "plain" / "film.png").unlink()
    output = tmp_path / "deidentified"
    arguments = ["predict", "--model", str(trained_run), "--input", str(source)]
    assert main([*arguments, "--output", str(output)]) == 0
    shown = [(output / name).read_text() for name in ("report.html", "films.csv", "studies.csv")]
    shown += [path.name for path in output.rglob("*")]
    assert not [secret for secret in DICOM_SECRETS for text in shown if secret in text]
    studies = _rows(output / "studies.csv")
    assert len(studies) == 1 and studies[0]["films"] == "2" and studies[0]["study"].startswith("patient-")
    identities = _rows(output / "identities.csv")  # the way back, for the user alone
    assert sorted(row["path"] for row in identities) == sorted(str(path) for path in source.rglob("*.dcm"))
    assert {row["film"] for row in identities} == {row["film"] for row in _rows(output / "films.csv")}

    assert main([*arguments, "--output", str(tmp_path / "named"), "--deidentify", "false"]) == 0
    assert _rows(tmp_path / "named" / "studies.csv")[0]["study"] == "MRN-4711/1.2.3.4"
    page = (tmp_path / "named" / "report.html").read_text()
    assert "MRN-4711" in page and "Doe^Jane" not in page  # the ids shown; the name tag is never read


@pytest.mark.slow
def test_export_carries_the_training_settings(prediction: tuple[int, Path], trained_run: Path) -> None:
    settings = json.loads((trained_run / "weights" / "openvino" / "xray_deployment.json").read_text())
    assert settings["preprocessing"] == {"variant": "full", "split_hands": True, "fills_film": []}
    assert settings["film_transform"]["class_path"].endswith("HistogramEqualization")
    assert settings["image_size"] == IMAGE_SIZE
    assert settings["takes_hand_mask"] is True


@pytest.mark.slow
def test_predictor_scores_as_the_trained_model_did(
    trained_run: Path, synthetic_root: Path, preprocessed_cache: Path
) -> None:
    """The predictor's own preprocessing of a raw film gives the score the model gave the cached training crop."""
    datamodule = _datamodule(synthetic_root, preprocessed_cache)
    datamodule.setup()
    torch_predictor = Predictor(trained_run, backend="torch")
    openvino_predictor = Predictor(trained_run, backend="openvino")
    module = torch_predictor.runner.module
    samples = datamodule.test_data.samples
    single = samples[~samples["film_path"].duplicated(keep=False)].head(6)  # films with one hand crop
    for index in single.index:
        item = datamodule.test_data[samples.index.get_loc(index)]
        with torch.no_grad():
            expected = module(item.image.unsqueeze(0), item.hand_mask.reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE).float())
        film = samples.loc[index, "film_path"]
        prepared = torch_predictor.prepare(film)  # one film-to-tensor path: the dataset's input, bit for bit
        np.testing.assert_array_equal(prepared.images[0], item.image.numpy())
        np.testing.assert_array_equal(prepared.hand_masks[0, 0], item.hand_mask.numpy().astype(np.float32))
        by_torch = torch_predictor.predict(film)
        by_openvino = openvino_predictor.predict(film)
        assert by_torch.score == pytest.approx(float(expected.pred_score), abs=1e-6)
        assert by_openvino.score == pytest.approx(by_torch.score, abs=1e-4)
        np.testing.assert_allclose(by_openvino.anomaly_map, by_torch.anomaly_map, atol=1e-3)


@pytest.mark.slow
def test_missing_settings_and_size_mismatch_are_refused(trained_run: Path, tmp_path: Path) -> None:
    Predictor(trained_run)  # exports the run's checkpoint when no earlier test did
    export = tmp_path / "export"
    shutil.copytree(trained_run / "weights" / "openvino", export)
    settings = json.loads((export / "xray_deployment.json").read_text())
    (export / "xray_deployment.json").write_text(json.dumps(settings | {"image_size": 2 * IMAGE_SIZE}))
    with pytest.raises(DeploymentError, match="Input size mismatch"):
        Predictor(export)
    (export / "xray_deployment.json").unlink()
    with pytest.raises(DeploymentError, match="preprocessing the model was trained with is unknown"):
        Predictor(export)
    assert main(["predict", "--model", str(export), "--input", str(tmp_path), "--output", str(tmp_path / "o")]) == 2


def _screenshot_path(page: Path, target: Path) -> Path:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={target.parent / 'chromium-profile'}",
            "--window-size=1200,4000",
            f"--screenshot={target}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_images_render_in_a_browser(tmp_path: Path) -> None:
    """Thumbnails embedded in the page are drawn by a real browser: solid colours show up where they are."""
    colours = {"original": (255, 0, 255), "overlay": (255, 255, 0)}  # BGR magenta and cyan
    for name, colour in colours.items():
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), np.full((200, 160, 3), colour, np.uint8))
    films = [
        FilmRow("s", "s/1.png", "", "ok", score=0.7, original_thumbnail="original.jpg", overlay_thumbnail="overlay.jpg")
    ]
    page = write_html(tmp_path / "report.html", [StudyRow("s", 1, 1, 0, 0, 0.7, True, "max")], films, "test", {})
    shot = cv2.imread(str(_screenshot_path(page, tmp_path / "shot.png"))).astype(int)
    for colour in colours.values():
        area = (np.abs(shot - np.array(colour)).sum(axis=2) < 60).sum()
        assert area > 0.8 * 200 * 160  # each thumbnail drawn in full


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_prediction_report_renders_its_films(prediction: tuple[int, Path], tmp_path: Path) -> None:
    """The page's dark pixels grow by the thumbnails' own dark pixels (film backgrounds) over the page without them."""
    _, output = prediction
    page = (output / "report.html").read_text()
    bare = output / "bare.html"
    bare.write_text(re.sub(r"<img [^>]*>", "", page))
    dark_with = (cv2.imread(str(_screenshot_path(output / "report.html", tmp_path / "with.png")), 0) < 40).sum()
    dark_without = (cv2.imread(str(_screenshot_path(bare, tmp_path / "without.png")), 0) < 40).sum()
    thumbnails = [
        cv2.imread(str(output / row[column]), 0)
        for row in _rows(output / "films.csv")
        for column in ("original_thumbnail", "overlay_thumbnail")
        if row[column]
    ]
    assert len(thumbnails) == 2 * 7 + 1  # seven films scored, and the blank film shown without an overlay
    expected = sum((thumbnail < 40).sum() for thumbnail in thumbnails)
    assert dark_with - dark_without > 0.8 * expected


NETWORK_AUDIT = """
import os
import sys

LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _audit(event, args):
    if event not in ("socket.getaddrinfo", "socket.connect"):
        return
    target = args[0] if event == "socket.getaddrinfo" else args[1]
    host = str(target[0] if isinstance(target, tuple) else target)
    if host not in LOOPBACK and not host.startswith("/"):
        with open(os.environ["NETWORK_LOG"], "a") as log:
            log.write(f"{event} {host}\\n")


sys.addaudithook(_audit)
"""


@pytest.mark.slow
def test_predict_opens_no_network_connection_and_writes_nothing_home(
    trained_run: Path, film_folder: Path, tmp_path: Path
) -> None:
    """OpenVINO's telemetry would look up its analytics host and write ~/intel: declined, nothing happens."""
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "sitecustomize.py").write_text(NETWORK_AUDIT)
    home, log = tmp_path / "home", tmp_path / "network.log"
    home.mkdir()
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": str(tmp_path / "hooks")}
    environment["NETWORK_LOG"] = str(log)
    lookup = "import socket\ntry:\n    socket.getaddrinfo('example.org', 443)\nexcept OSError:\n    pass"
    subprocess.run([sys.executable, "-c", lookup], env=environment, check=True)
    assert "socket.getaddrinfo example.org" in log.read_text()  # the audit sees a lookup
    log.unlink()
    arguments = ["predict", "--model", str(trained_run), "--input", str(film_folder), "--output", str(tmp_path / "out")]
    command = [sys.executable, "-c", f"from xray_anomalib.cli import main; raise SystemExit(main({arguments!r}))"]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: the folder holds unreadable films on purpose
    assert (tmp_path / "out" / "report.html").is_file()
    assert not log.exists(), log.read_text()
    assert not (home / "intel").exists(), sorted(path.name for path in (home / "intel").iterdir())


@pytest.mark.slow
def test_a_film_above_the_size_limit_is_reduced_on_reading(
    trained_run: Path, film_folder: Path, tmp_path: Path
) -> None:
    """A 4x upscaled film is read at the limit: it scores as the film did, its peak given in the file's pixels."""
    film = cv2.imread(str(film_folder / "negative" / "image1.png"), cv2.IMREAD_GRAYSCALE)
    large = cv2.resize(film, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(tmp_path / "large.png"), large)
    limit = max(film.shape)
    predictor = Predictor(trained_run, backend="torch", max_film_side=limit)
    reduced, original = (
        predictor.predict(tmp_path / "large.png"),
        predictor.predict(film_folder / "negative/image1.png"),
    )
    assert reduced.ok and reduced.film is not None and reduced.peak is not None
    assert max(reduced.film.shape) == limit and reduced.scale == pytest.approx(0.25)
    assert reduced.score == pytest.approx(original.score, abs=0.02)
    assert reduced.stored_peak == (round(reduced.peak[0] * 4), round(reduced.peak[1] * 4))
    whole = Predictor(trained_run, backend="torch", max_film_side=None).predict(tmp_path / "large.png")
    assert whole.film is not None and whole.film.shape == large.shape and whole.scale == 1


def test_the_films_body_part_reaches_the_pipeline(trained_run: Path, film_folder: Path) -> None:
    """``--body-part`` scores films of a part that fills the film as the training cache treated them: whole."""
    predictor = Predictor(trained_run, backend="torch", body_part="XR_HAND")
    settings = predictor.pipeline.settings
    assert settings is not None and not settings.fills_film
    usual = predictor.prepare(film_folder / "negative" / "image1.png")
    predictor.pipeline.settings = replace(settings, fills_film=("XR_HAND",))
    filled = predictor.prepare(film_folder / "negative" / "image1.png")
    assert isinstance(usual, PreparedFilm) and isinstance(filled, PreparedFilm)
    assert not usual.record.fills_film and usual.record.carrier_found  # the synthetic films lie on a carrier
    assert filled.record.fills_film and not filled.record.carrier_found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--output", "{file}"], "Output {file} is a file; expected a folder for the report"),
        (["--device", "GPU.9"], "OpenVINO device 'GPU.9' is not available on this machine; available: CPU"),
    ],
)
def test_wrong_output_and_device_are_one_line(
    trained_run: Path, film_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture, options: list, expected: str
) -> None:
    file = tmp_path / "report.txt"
    file.write_text("a file")
    argv = ["predict", "--model", str(trained_run), "--input", str(film_folder / "negative")]
    assert main(argv + [option.format(file=file) for option in options]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected.format(file=file) in lines[0]

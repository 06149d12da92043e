import inspect
import sys
import textwrap
from pathlib import Path

import pytest
from xray_anomalib_plugins.cae import Cae

from xray_anomalib.cli import main
from xray_anomalib.registry import UnknownModelError, build_model, get_model_spec, list_models
from xray_anomalib.utils.class_path import class_docstring


def test_plugins_and_baselines_listed() -> None:
    specs = {spec.name: spec for spec in list_models()}
    assert {"cae", "dfm", "padim", "patchcore"} <= set(specs)
    assert specs["cae"].source == "xray-anomalib"
    assert specs["padim"].source == "anomalib"
    assert build_model("cae", channels=[8, 16], bottleneck_channels=16, image_size=32).__class__.__name__ == "Cae"


def test_unknown_model_names_the_registered_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"registered models: .*cae"):
        get_model_spec("nope")


def test_third_party_distribution_is_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    package = tmp_path / "acme_xray"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            '''
            from xray_anomalib_plugins.cae import Cae


            class TinyAe(Cae):
                """A third party's autoencoder."""
            ''',
        ),
    )
    dist_info = tmp_path / "acme_xray-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-xray\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[xray_anomalib.models]\ntiny_ae = acme_xray:TinyAe\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = get_model_spec("tiny_ae")
    assert spec.source == "acme-xray"
    assert spec.load().__name__ == "TinyAe"
    assert main(["models"]) == 0
    assert "tiny_ae" in capsys.readouterr().out
    sys.modules.pop("acme_xray", None)


def test_summaries_are_read_from_source_as_importing_would_give() -> None:
    for spec in list_models():
        doc = (spec.load().__doc__ or "").strip().splitlines()
        assert spec.summary == doc[0], spec.name


def test_class_docstring_follows_reexports_and_misses_cleanly() -> None:
    assert class_docstring("xray_anomalib_plugins.cae.Cae") == inspect.getdoc(Cae)
    assert class_docstring("xray_anomalib_plugins.cae.NoSuchClass") is None
    assert class_docstring("no_such_package.module.Class") is None

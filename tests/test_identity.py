"""DICOM films in reports: studies from their tags, pseudonyms in place of ids, names and birth dates never read."""

from pathlib import Path

import pytest
from films import DICOM_SECRETS, dicom_study

from xray_anomalib.deploy.identity import KEY_VARIABLE, identify, pseudonym
from xray_anomalib.deploy.inputs import find_inputs
from xray_anomalib.io.dicom_tags import read_dicom_identity


def test_the_identity_is_read_without_the_name(tmp_path: Path) -> None:
    root = dicom_study(tmp_path)
    identity = read_dicom_identity(root / "DOE_JANE_19700101" / "scan0.dcm")
    assert identity is not None
    assert (identity.patient_id, identity.study_uid, identity.instance_uid) == ("MRN-4711", "1.2.3.4", "1.2.3.4.0")
    assert read_dicom_identity(root / "plain" / "film.png") is None


def test_dicom_films_get_pseudonyms_of_their_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = dicom_study(tmp_path)
    monkeypatch.setenv(KEY_VARIABLE, "secret")
    films, identities = identify(find_inputs(root)[0])
    dicom = [item for item in films if item.alias]
    study = f"{pseudonym('patient', 'MRN-4711', b'secret')}/{pseudonym('study', '1.2.3.4', b'secret')}"
    assert {item.study for item in dicom} == {study}  # one study, from the tags, not from the folder
    assert all(secret not in item.shown for item in dicom for secret in DICOM_SECRETS)
    assert [row.path for row in identities] == [str(item.path) for item in dicom]
    plain = next(item for item in films if not item.alias)
    assert (plain.study, plain.shown) == ("plain", "plain/film.png")  # other films keep their folder and name
    monkeypatch.setenv(KEY_VARIABLE, "another")
    assert identify(find_inputs(root)[0])[0][0].study != study  # the key changes every pseudonym

    films, identities = identify(find_inputs(root)[0], deidentify=False)
    assert {item.study for item in films if item.path.suffix == ".dcm"} == {"MRN-4711/1.2.3.4"} and not identities

"""Studies and patients of DICOM films from their tags, and pseudonyms in place of their ids in every output.

A prediction run groups DICOM films by their ``PatientID`` and ``StudyInstanceUID`` (other films by their
folder). With ``deidentify`` (the default) those ids become pseudonyms, ``patient-<hash>/study-<hash>``, and a
DICOM film's name and output files are named by them too (folder and file names of DICOM exports often hold the
patient's name); ``identities.csv`` maps each pseudonym back to its file, for the user to keep apart from the
report. Patient names and birth dates are never read (:mod:`~xray_anomalib.io.dicom_tags`).

A pseudonym is the HMAC-SHA256 of the id keyed with the ``XRAY_ANOMALIB_ID_KEY`` environment variable: the same
id gets the same pseudonym in every run with the same key. Without a key, a short id (a number) could be found
back by trying every id; set a secret key when the report leaves the hospital.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from xray_anomalib.deploy.inputs import FilmInput
from xray_anomalib.io.dicom_tags import read_dicom_identity
from xray_anomalib.io.films import DICOM_SUFFIXES

KEY_VARIABLE = "XRAY_ANOMALIB_ID_KEY"
PSEUDONYM_CHARACTERS = 12


@dataclass(frozen=True)
class IdentityRow:
    """One line of ``identities.csv``: a de-identified film's pseudonym and the file it stands for."""

    film: str
    study: str
    path: str


def pseudonym(kind: str, value: str, key: bytes) -> str:
    """``<kind>-<12 hex digits>``: the keyed hash of ``value``."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:PSEUDONYM_CHARACTERS]}"


def identify(films: list[FilmInput], deidentify: bool = True) -> tuple[list[FilmInput], list[IdentityRow]]:
    """The films with DICOM films put in their tags' study (pseudonymised with ``deidentify``), and the key map.

    Args:
        films: The films found under the input.
        deidentify: Replace the DICOM ids, and the DICOM films' names, by pseudonyms.

    Returns:
        The films (others unchanged), and one :class:`IdentityRow` per de-identified film.
    """
    key = os.environ.get(KEY_VARIABLE, "").encode("utf-8")
    identified, identities = [], []
    for item in films:
        tags = read_dicom_identity(item.path) if _may_be_dicom(item) else None
        if tags is None:
            identified.append(item)
            continue
        study_id = tags.study_uid or item.study
        if not deidentify:
            identified.append(replace(item, study=f"{tags.patient_id}/{study_id}"))
            continue
        study = f"{pseudonym('patient', tags.patient_id, key)}/{pseudonym('study', study_id, key)}"
        film = f"{study}/{pseudonym('film', tags.instance_uid or item.name, key)}{PurePosixPath(item.name).suffix}"
        identified.append(replace(item, study=study, alias=film))
        identities.append(IdentityRow(film, study, str(item.path)))
    return identified, identities


def _may_be_dicom(item: FilmInput) -> bool:
    """DICOM by suffix, or no suffix at all (as DICOM files often have)."""
    suffix = item.path.suffix.lower()
    return suffix in DICOM_SUFFIXES or not suffix

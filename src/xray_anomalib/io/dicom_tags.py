"""Who and which study a DICOM film belongs to, read from its header alone (no pixels).

Only the identifiers are read (``PatientID``, ``StudyInstanceUID``, ``SOPInstanceUID``): never the patient's
name or birth date, so that nothing built on them can show those.

Example:
    >>> read_dicom_identity("film.dcm")  # doctest: +SKIP
    DicomIdentity(patient_id='12345', study_uid='1.2.840...', instance_uid='1.2.840...')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IDENTITY_TAGS = ("PatientID", "StudyInstanceUID", "SOPInstanceUID")


@dataclass(frozen=True)
class DicomIdentity:
    """A DICOM film's identifiers (empty strings where the header lacks them).

    Attributes:
        patient_id: ``PatientID``.
        study_uid: ``StudyInstanceUID``.
        instance_uid: ``SOPInstanceUID``, the film's own.
    """

    patient_id: str
    study_uid: str
    instance_uid: str


def read_dicom_identity(path: str | Path) -> DicomIdentity | None:
    """The identifiers of a DICOM film; ``None`` when it is not DICOM, cannot be read or has no ``PatientID``."""
    import pydicom

    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(IDENTITY_TAGS))
    except Exception:  # pydicom raises many kinds on files that are not DICOM or are broken; each means "none"
        return None
    patient, study, instance = (str(dataset.get(tag, "")).strip() for tag in IDENTITY_TAGS)
    return DicomIdentity(patient, study, instance) if patient else None

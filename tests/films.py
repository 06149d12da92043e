"""Film files for tests: DICOM written with pydicom, decompression bombs' headers in each raster format, and small
copies of FracAtlas."""

import json
import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pandas as pd


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    photometric: str,
    slope: float = 1.0,
    intercept: float = 0.0,
    tags: dict[str, str] | None = None,
) -> None:
    """Write ``pixels`` as a 12-bit DICOM film, with extra ``tags`` (e.g. ``PatientID``)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\x00" * 128)
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 0
    dataset.RescaleSlope, dataset.RescaleIntercept = slope, intercept
    dataset.PixelData = pixels.astype(np.uint16).tobytes()
    for name, value in (tags or {}).items():
        setattr(dataset, name, value)
    dataset.save_as(path, enforce_file_format=True)


def tiff_claiming(width: int, height: int) -> bytes:
    """A little-endian TIFF of a few bytes whose header claims ``width x height`` 8-bit gray pixels."""
    tags = [  # (tag, type, count, value); type 3 = SHORT, 4 = LONG
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, width * height),
    ]
    entries = b"".join(struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in tags)
    ifd = struct.pack("<H", len(tags)) + entries + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8 + 16) + b"\x00" * 16 + ifd


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 16 x 16 JPEG whose start-of-frame header is rewritten to claim ``width x height`` pixels."""
    ok, encoded = cv2.imencode(".jpg", np.zeros((16, 16), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    frame = data.index(b"\xff\xc0")  # baseline start of frame: length, precision, height, width
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


DICOM_PERSON = {"PatientName": "Doe^Jane", "PatientBirthDate": "19700101", "PatientID": "MRN-4711"}
DICOM_SECRETS = ("Doe", "Jane", "19700101", "MRN-4711", "1.2.3.4", "DOE_JANE")
"""What no de-identified output may show of :func:`dicom_study`'s patient."""


def dicom_study(root: Path, pixels: np.ndarray | None = None) -> Path:
    """Two films of one study of a named patient, in a folder named after her (as DICOM exports often are), a PNG.

    ``pixels`` (12-bit values) are the films' pixels; a gradient without them.
    """
    pixels = np.tile(np.linspace(0, 4095, 64), (64, 1)) if pixels is None else pixels
    folder = root / "DOE_JANE_19700101"
    folder.mkdir(parents=True)
    for index in range(2):
        tags = {**DICOM_PERSON, "StudyInstanceUID": "1.2.3.4", "SOPInstanceUID": f"1.2.3.4.{index}"}
        write_dicom(folder / f"scan{index}.dcm", pixels, "MONOCHROME2", tags=tags)
    (root / "plain").mkdir()
    (root / "plain" / "film.png").write_bytes(b"")
    return root


def copy_fracatlas(root: Path, destination: Path, fractured: int = 6, normal: int = 14) -> Path:
    """Copy the first ``fractured`` and ``normal`` films of FracAtlas at ``root`` (implants among them, as listed) with
    their rows and polygons into ``destination/FracAtlas``, a root the datamodule reads like the published one."""
    from xray_anomalib.data.fracatlas import FRACATLAS_COCO

    copy = destination / "FracAtlas"
    (copy / FRACATLAS_COCO).parent.mkdir(parents=True)
    table = pd.read_csv(root / "dataset.csv")
    sample = pd.concat([table[table["fractured"] == 1].head(fractured), table[table["fractured"] == 0].head(normal)])
    sample.to_csv(copy / "dataset.csv", index=False)
    for row in sample.itertuples():
        folder = "Fractured" if row.fractured else "Non_fractured"
        (copy / "images" / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "images" / folder / row.image_id, copy / "images" / folder / row.image_id)
    coco = json.loads((root / FRACATLAS_COCO).read_text())
    names = set(sample["image_id"])
    images = [image for image in coco["images"] if image["file_name"] in names]
    ids = {image["id"] for image in images}
    coco |= {"images": images, "annotations": [a for a in coco["annotations"] if a["image_id"] in ids]}
    (copy / FRACATLAS_COCO).write_text(json.dumps(coco))
    return copy

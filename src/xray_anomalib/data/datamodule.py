"""The MURA datamodule: a patient-wise split of MURA (or of the synthetic default) for anomalib.

Example:
    >>> from anomalib.engine import Engine
    >>> datamodule = Mura(root=None, image_size=128)  # synthetic default, written on first use
    >>> Engine().fit(model, datamodule=datamodule)  # doctest: +SKIP

In YAML::

    data:
      class_path: xray_anomalib.data.Mura
      init_args:
        root: datasets/MURA-v1.1
        body_parts: [XR_HAND]
        split_mode: paper
        seed: 0
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from anomalib.data.datamodules.base.image import AnomalibDataModule
from torchvision.transforms.v2 import Transform

from xray_anomalib.data.dataset import MuraDataset, find_unreadable_films, mask_column
from xray_anomalib.data.mura import read_mura_index
from xray_anomalib.data.split import (
    SPLITS,
    SplitError,
    SplitMode,
    check_patient_wise,
    format_split_summary,
    patient_wise_split,
    read_manifest,
    summarize_split,
    write_manifest,
)
from xray_anomalib.data.synthetic import ANOMALY_MASK_DIR, HAND_MASK_DIR, write_synthetic_mura
from xray_anomalib.distributed import share_run_folder
from xray_anomalib.preprocessing.cache import build_cache
from xray_anomalib.preprocessing.pipeline import PreprocessingSettings

logger = logging.getLogger(__name__)

DEFAULT_SYNTHETIC_ROOT = Path("datasets/synthetic_mura")
MANIFEST_NAME = "split_manifest.csv"
REJECTED_NAME = "rejected_films.csv"
RECORDS_NAME = "preprocessing_records.csv"
DEFAULT_CACHE_DIR = Path("datasets/preprocessed")


class Mura(AnomalibDataModule):
    """Patient-wise MURA data for anomaly detection: train on normal films, validate and test on both.

    Args:
        root: A MURA-v1.1 folder (CSVs and/or ``train``/``valid`` folders). ``None`` uses the synthetic default,
            written to ``synthetic_root`` on first use.
        body_parts: Body parts to use (``XR_HAND`` by default, or ``all``).
        mura_parts: MURA parts to read; the paper used ``train`` only. ``split_mode: mura`` needs both.
        split_mode: ``paper`` (Fig. 4 of Davletshina et al.) or ``mura`` (MURA ``valid`` as test set).
        seed: Seed of the split; the manifest of every run is saved beside its results.
        manifest: A manifest CSV of an earlier run, to reuse its split exactly (``seed`` is then ignored).
        image_size: Films are resized (longest side) and zero-padded to ``image_size x image_size``.
        mask_dir: Folder below ``root`` with anomaly masks mirroring the image paths (``masks`` for the
            synthetic default); positive films with a mask enable pixel metrics.
        hand_mask_dir: Folder below ``root`` with hand masks mirroring the image paths; ``None`` uses the whole
            film as the hand. Not used with ``preprocessing``, whose segmentation gives the masks.
        preprocessing: Offline preprocessing (``variant``: ``raw``, ``cropped`` or ``full``), run once and cached
            in ``cache_dir``; ``None`` reads the films as they are.
        cache_dir: Where preprocessed films are cached, keyed by the preprocessing settings.
        film_transform: Online transform of each film before resizing and padding (e.g.
            ``HistogramEqualization`` or ``Clahe`` from :mod:`xray_anomalib.preprocessing`).
        train_batch_size: Training batch size.
        eval_batch_size: Validation and test batch size.
        num_workers: Data loader workers.
        train_augmentations: Augmentations of training films (torchvision v2; masks follow).
        val_augmentations: Augmentations of validation films.
        test_augmentations: Augmentations of test films.
        augmentations: Augmentations of every part, where the three above are not given.
        synthetic_root: Where the synthetic default is written when ``root`` is ``None``.
        synthetic_patients: Patients of the synthetic default.
        synthetic_image_size: Longest side of the synthetic films.
        prepare_data_per_node: Preprocess in one process per node (``True``, for node-local caches) or in one
            process of the whole run (``False``, for a cache on a filesystem that all nodes share).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        body_parts: str | Sequence[str] = ("XR_HAND",),
        mura_parts: Sequence[str] = ("train",),
        split_mode: SplitMode | str = SplitMode.PAPER,
        seed: int = 0,
        manifest: str | Path | None = None,
        image_size: int = 256,
        mask_dir: str | None = None,
        hand_mask_dir: str | None = None,
        preprocessing: PreprocessingSettings | None = None,
        cache_dir: str | Path = DEFAULT_CACHE_DIR,
        film_transform: Transform | None = None,
        train_batch_size: int = 16,
        eval_batch_size: int = 16,
        num_workers: int = 0,
        train_augmentations: Transform | None = None,
        val_augmentations: Transform | None = None,
        test_augmentations: Transform | None = None,
        augmentations: Transform | None = None,
        synthetic_root: str | Path = DEFAULT_SYNTHETIC_ROOT,
        synthetic_patients: int = 240,
        synthetic_image_size: int = 256,
        prepare_data_per_node: bool = True,
    ) -> None:
        super().__init__(
            train_batch_size=train_batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            train_augmentations=train_augmentations,
            val_augmentations=val_augmentations,
            test_augmentations=test_augmentations,
            augmentations=augmentations,
            seed=seed,
        )
        self.synthetic = root is None
        self.root = Path(synthetic_root if root is None else root).expanduser()
        self.body_parts = [body_parts] if isinstance(body_parts, str) else list(body_parts)
        self.mura_parts = list(mura_parts)
        self.split_mode = SplitMode(split_mode)
        self.manifest_path = None if manifest is None else Path(manifest)
        self.image_size = image_size
        self.mask_dir = ANOMALY_MASK_DIR if self.synthetic and mask_dir is None else mask_dir
        self.hand_mask_dir = HAND_MASK_DIR if self.synthetic and hand_mask_dir is None else hand_mask_dir
        self.preprocessing = preprocessing
        self.cache_dir = Path(cache_dir)
        self.film_transform = film_transform
        self.synthetic_patients = synthetic_patients
        self.synthetic_image_size = synthetic_image_size
        self.prepare_data_per_node = prepare_data_per_node
        self.manifest: pd.DataFrame | None = None
        self.rejected_films = pd.DataFrame(columns=["image_path", "reason"])
        self.preprocessing_records: pd.DataFrame | None = None
        self._category = "_".join(sorted(self.body_parts)).lower()

    @property
    def name(self) -> str:
        """The root folder's name, used by anomalib for result folders and heatmap file names.

        Results go to ``<model>/<root name>/<body parts>/`` and heatmap images keep the ``patient/study/image``
        path below it, so that films of different patients never overwrite each other.
        """
        return self.root.resolve().name

    def prepare_data(self) -> None:
        """Write the synthetic default if it is used and missing, and run the offline preprocessing into its cache.

        Lightning calls this in one process per node (one in all with ``prepare_data_per_node: false``, for a
        cache on a shared filesystem) before any process sets up, so processes never preprocess a film at once.
        """
        self._write_synthetic()
        if self.preprocessing is not None:
            build_cache(self._manifest()[0], self.preprocessing, self.cache_dir, self.name)

    def _write_synthetic(self) -> None:
        if self.synthetic:
            write_synthetic_mura(
                self.root,
                n_patients=self.synthetic_patients,
                seed=0,
                longest_side=self.synthetic_image_size,
            )

    def _manifest(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The split with its mask columns, and the films refused because they resolve outside the root."""
        manifest = self._load_or_draw_split()
        manifest["mask_path"] = mask_column(manifest, self.root, self.mask_dir, only_positive=True)
        manifest["hand_mask_path"] = mask_column(manifest, self.root, self.hand_mask_dir)
        missing = manifest.loc[[not Path(path).is_file() for path in manifest["image_path"]], "image_path"]
        if len(missing):
            msg = (
                f"{len(missing)} of {len(manifest)} films listed for {self.root} are not on disk, "
                f"e.g. {missing.iloc[0]}. "
                "Is root the MURA-v1.1 folder that holds the CSVs and the train/valid folders?"
            )
            raise FileNotFoundError(msg)
        outside = _outside_root(manifest["image_path"], self.root)
        return manifest[~manifest["image_path"].isin(outside["image_path"])], outside

    def _setup(self, _stage: str | None = None) -> None:
        self._write_synthetic()
        manifest, outside = self._manifest()
        samples = self._preprocess(manifest)
        self.rejected_films = pd.concat([outside, self.rejected_films], ignore_index=True)
        if len(self.rejected_films):
            logger.warning(
                "%d of %d films cannot be read and are left out (listed in %s): first %s",
                len(self.rejected_films),
                len(manifest) + len(outside),
                REJECTED_NAME,
                self.rejected_films.iloc[0]["reason"],
            )
            manifest = manifest[~manifest["image_path"].isin(self.rejected_films["image_path"])]
        self.manifest = manifest.reset_index(drop=True)
        logger.info("Split of %s (seed %d):\n%s", self.root, self.seed, format_split_summary(summarize_split(manifest)))
        datasets = {}
        for split in SPLITS:
            part = samples[samples["split"] == split]
            if part.empty:
                msg = f"The {split} part of the split of {self.root} is empty after removing unreadable films."
                raise SplitError(msg)
            datasets[split] = MuraDataset(
                part, image_size=self.image_size, split=split, film_transform=self.film_transform
            )
        self.train_data, self.val_data, self.test_data = datasets["train"], datasets["val"], datasets["test"]

    def _preprocess(self, manifest: pd.DataFrame) -> pd.DataFrame:
        """Return the samples (films, or hand crops from the cache) and set the list of unreadable films."""
        if self.preprocessing is None:
            self.rejected_films = find_unreadable_films(manifest, workers=min(8, os.cpu_count() or 1))
            return manifest[~manifest["image_path"].isin(self.rejected_films["image_path"])]
        crops = build_cache(manifest, self.preprocessing, self.cache_dir, self.name)
        unreadable = crops["status"] == "unreadable"
        self.rejected_films = crops.loc[unreadable, ["film_path", "reason"]].rename(columns={"film_path": "image_path"})
        self.preprocessing_records = crops.loc[~unreadable]
        fallbacks = self.preprocessing_records.drop_duplicates("film_path")["status"].eq("fallback").sum()
        if fallbacks:
            logger.warning("Preprocessing fell back on %d film(s); reasons in %s", fallbacks, RECORDS_NAME)
        return self.preprocessing_records

    def _create_test_split(self) -> None:
        """Keep the test part as the patient-wise split drew it (anomalib's default drops its normal films)."""

    def _create_val_split(self) -> None:
        """Keep the validation part as the patient-wise split drew it."""

    def setup(self, stage: str | None = None) -> None:
        """Set up the parts and save the split manifest beside the run's results."""
        super().setup(stage)
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.world_size > 1:
            share_run_folder(trainer)
        if trainer is not None and self.manifest is not None and trainer.is_global_zero:
            self.save_manifest(Path(trainer.default_root_dir))

    def save_manifest(self, folder: Path) -> Path:
        """Write the split manifest (and the list of unreadable films, if any) into ``folder``."""
        if self.manifest is None:
            msg = "The datamodule has no split yet; call setup() first."
            raise RuntimeError(msg)
        path = write_manifest(self.manifest, folder / MANIFEST_NAME)
        if self.preprocessing_records is not None:
            self.preprocessing_records.to_csv(folder / RECORDS_NAME, index=False)
        if len(self.rejected_films):
            self.rejected_films.to_csv(folder / REJECTED_NAME, index=False)
        return path

    def _load_or_draw_split(self) -> pd.DataFrame:
        if self.manifest_path is not None:
            return read_manifest(self.manifest_path, self.root)
        parts = ["train", "valid"] if self.split_mode is SplitMode.MURA else self.mura_parts
        index = read_mura_index(self.root, body_parts=self.body_parts, mura_parts=parts)
        manifest = patient_wise_split(index, seed=self.seed, mode=self.split_mode)
        check_patient_wise(manifest)
        return manifest


def _outside_root(paths: pd.Series, root: Path) -> pd.DataFrame:
    """Films whose real path (symbolic links followed) lies outside ``root``: they are never read."""
    real_root = root.resolve()
    outside = [path for path in paths if not Path(path).resolve().is_relative_to(real_root)]
    reason = f"the file resolves outside the dataset root {real_root} (a symbolic link); it is not read"
    return pd.DataFrame({"image_path": outside, "reason": [f"{path}: {reason}" for path in outside]})

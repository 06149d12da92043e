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

    data:
      class_path: xray_anomalib.data.FracAtlas
      init_args: {root: ../shared/data/fracatlas-lower, body_parts: all, implants: exclude}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from anomalib.data.datamodules.base.image import AnomalibDataModule
from torchvision.transforms.v2 import Transform

from xray_anomalib.data.coco import CocoError, FilmRegions, coco_mask_folder, read_coco_regions, write_coco_masks
from xray_anomalib.data.dataset import MuraDataset, find_unreadable_films, mask_column
from xray_anomalib.data.fracatlas import (
    FRACATLAS_BODY_PARTS,
    FRACATLAS_COCO,
    LABEL_FOLDERS,
    Implants,
    ReviewedMetal,
    normalise_fracatlas_parts,
    read_fracatlas_index,
)
from xray_anomalib.data.identity import DUPLICATE_COLUMNS, dataset_key, drop_duplicate_films
from xray_anomalib.data.labelled import read_labelled_index
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
from xray_anomalib.film_pipeline.cache import build_cache
from xray_anomalib.film_pipeline.pipeline import PreprocessingSettings, parts_of
from xray_anomalib.utils.distributed import share_run_folder

logger = logging.getLogger(__name__)

DEFAULT_SYNTHETIC_ROOT = Path("datasets/synthetic_mura")
MANIFEST_NAME = "split_manifest.csv"
REJECTED_NAME = "rejected_films.csv"
DUPLICATES_NAME = "duplicate_films.csv"
RECORDS_NAME = "preprocessing_records.csv"
DEFAULT_CACHE_DIR = Path("datasets/preprocessed")


class XrayDataModule(AnomalibDataModule):
    """The shared core of the X-ray datamodules: train on normal films, validate and test on both.

    A subclass says how its collection is indexed (:meth:`_read_index`) and where its anomaly masks are
    (:meth:`_mask_paths`); the split, the unreadable and duplicate films, the cache and the manifest are done here.

    Args:
        root: The collection's folder; film paths of the manifest are relative to it.
        split_mode: ``paper`` (Fig. 4 of Davletshina et al.) or ``mura`` (MURA ``valid`` as test set).
        seed: Seed of the split; the manifest of every run is saved beside its results.
        manifest: A manifest CSV of an earlier run, to reuse its split exactly (``seed`` is then ignored).
        image_size: Films are resized (longest side) and zero-padded to ``image_size x image_size``.
        hand_mask_dir: Folder below ``root`` with body masks mirroring the image paths; ``None`` uses the whole
            film. Not used with ``preprocessing``, whose segmentation gives the masks.
        preprocessing: Offline preprocessing (``variant``: ``raw``, ``cropped`` or ``full``), run once and cached
            in ``cache_dir``; ``None`` reads the films as they are.
        cache_dir: Where preprocessed films (and masks drawn from annotations) are cached, keyed by the settings,
            the collection's resolved path and each film's size and modification time.
        film_transform: Online transform of each film before resizing and padding (e.g.
            ``HistogramEqualization`` or ``Clahe`` from :mod:`xray_anomalib.data.transforms`).
        train_batch_size: Training batch size.
        eval_batch_size: Validation and test batch size.
        num_workers: Data loader workers.
        train_augmentations: Augmentations of training films (torchvision v2; masks follow).
        val_augmentations: Augmentations of validation films.
        test_augmentations: Augmentations of test films.
        augmentations: Augmentations of every part, where the three above are not given.
        prepare_data_per_node: Preprocess in one process per node (``True``, for node-local caches) or in one
            process of the whole run (``False``, for a cache on a filesystem that all nodes share).
    """

    train_data: MuraDataset
    val_data: MuraDataset
    test_data: MuraDataset

    def __init__(
        self,
        root: str | Path,
        split_mode: SplitMode | str = SplitMode.PAPER,
        seed: int = 0,
        manifest: str | Path | None = None,
        image_size: int = 256,
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
        self.root = Path(root).expanduser()
        self.split_mode = SplitMode(split_mode)
        self.manifest_path = None if manifest is None else Path(manifest)
        self.image_size = image_size
        self.hand_mask_dir = hand_mask_dir
        self.preprocessing = preprocessing
        self.cache_dir = Path(cache_dir)
        self.film_transform = film_transform
        self.prepare_data_per_node = prepare_data_per_node
        self.manifest: pd.DataFrame | None = None
        self.rejected_films = pd.DataFrame(columns=["image_path", "reason"])
        self.duplicate_films = pd.DataFrame(columns=list(DUPLICATE_COLUMNS))
        self.preprocessing_records: pd.DataFrame | None = None

    def _read_index(self) -> pd.DataFrame:
        """The collection's films: one row per film with the columns of ``INDEX_COLUMNS``."""
        raise NotImplementedError

    def _mask_paths(self, manifest: pd.DataFrame) -> list[str]:
        """The anomaly mask of each film of ``manifest`` ("" where it has none)."""
        return [""] * len(manifest)

    def _prepare_root(self) -> None:
        """Make the collection's folder ready before it is read (the synthetic default writes itself here)."""

    @property
    def name(self) -> str:  # type: ignore[override]  # an attribute in anomalib's base class
        """The root folder's name, used by anomalib for result folders and heatmap file names.

        Results go to ``<model>/<root name>/<category>/`` and heatmap images keep the film's path below it, so that
        films of different patients never overwrite each other.
        """
        return self.root.resolve().name

    @property
    def dataset_key(self) -> str:
        """The cache's name for this collection: its folder name and a hash of its resolved path."""
        return dataset_key(self.name, self.root)

    def prepare_data(self) -> None:
        """Make the root ready and run the offline preprocessing into its cache.

        Lightning calls this in one process per node (one in all with ``prepare_data_per_node: false``, for a
        cache on a shared filesystem) before any process sets up, so processes never preprocess a film at once.
        """
        self._prepare_root()
        if self.preprocessing is not None:
            build_cache(self._manifest()[0], self.preprocessing, self.cache_dir, self.dataset_key)

    def _manifest(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The split with its mask columns, and the films refused before reading (missing, outside the root)."""
        manifest = self._load_or_draw_split()
        manifest["mask_path"] = self._mask_paths(manifest)
        manifest["hand_mask_path"] = mask_column(manifest, self.root, self.hand_mask_dir)
        missing = _missing_films(manifest, self.root)
        outside = _outside_root(
            manifest.loc[~manifest["image_path"].isin(missing["image_path"]), "image_path"], self.root
        )
        refused = pd.concat([missing, outside], ignore_index=True)
        return manifest[~manifest["image_path"].isin(refused["image_path"])], refused

    def _setup(self, _stage: str | None = None) -> None:
        self._prepare_root()
        manifest, refused = self._manifest()
        samples = self._preprocess(manifest)
        self.rejected_films = pd.concat([refused, self.rejected_films], ignore_index=True)
        if len(self.rejected_films):
            logger.warning(
                "%d of %d films cannot be read and are left out (listed in %s): first %s",
                len(self.rejected_films),
                len(manifest) + len(refused),
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
        unmasked = self.test_data.positives_without_mask
        if unmasked:
            logger.warning(
                "%d anomalous test film(s) have no anomaly mask: pixel metrics are computed over the other films",
                unmasked,
            )

    def _preprocess(self, manifest: pd.DataFrame) -> pd.DataFrame:
        """Return the samples (films, or crops from the cache) and set the list of unreadable films."""
        if self.preprocessing is None:
            self.rejected_films = find_unreadable_films(manifest, workers=min(8, os.cpu_count() or 1))
            return manifest[~manifest["image_path"].isin(self.rejected_films["image_path"])]
        self._report_films_the_body_fills(manifest)
        crops = build_cache(manifest, self.preprocessing, self.cache_dir, self.dataset_key)
        unreadable = crops["status"] == "unreadable"
        self.rejected_films = crops.loc[unreadable, ["film_path", "reason"]].rename(columns={"film_path": "image_path"})
        self.preprocessing_records = crops.loc[~unreadable]
        fallbacks = self.preprocessing_records.drop_duplicates("film_path")["status"].eq("fallback").sum()
        if fallbacks:
            logger.warning("Preprocessing fell back on %d film(s); reasons in %s", fallbacks, RECORDS_NAME)
        return self.preprocessing_records

    def _report_films_the_body_fills(self, manifest: pd.DataFrame) -> None:
        """Log how many films ``fills_film`` applies to; warn of a part no film has (a misspelt one matches none)."""
        settings = self.preprocessing
        if settings is None or not settings.fills_film:
            return
        body_parts = manifest["body_part"].astype(str)
        present = {part for names in body_parts.unique() for part in parts_of(names)}
        if missing := sorted(set(settings.fills_film) - present):
            logger.warning(
                "preprocessing.fills_film names %s, which no film of this dataset has; its body parts are %s.",
                missing,
                sorted(present),
            )
        filling = int(body_parts.map(settings.body_fills_film).sum())
        logger.info(
            "%d of %d film(s) are of a body part that fills the film %s: no carrier is cut out of them.",
            filling,
            len(manifest),
            list(settings.fills_film),
        )

    def _create_test_split(self) -> None:
        """Keep the test part as the patient-wise split drew it (anomalib's default drops its normal films)."""

    def _create_val_split(self) -> None:
        """Keep the validation part as the patient-wise split drew it."""

    def setup(self, stage: str | None = None) -> None:
        """Set up the parts and save the split manifest beside the run's results.

        Raises:
            SplitError: When a part is empty; where unreadable films emptied it, the list of them and their
                reasons is written to the run's folder first and the message says where.
        """
        trainer = getattr(self, "trainer", None)
        try:
            super().setup(stage)
        except SplitError as error:
            if not len(self.rejected_films):
                raise
            where = "the first: " + str(self.rejected_films.iloc[0]["reason"])
            if trainer is not None and trainer.is_global_zero:
                where = f"listed with their reasons in {self._save_rejected(Path(trainer.default_root_dir))}"
            msg = f"{error} {len(self.rejected_films)} film(s) could not be read, {where}"
            raise SplitError(msg) from error
        if trainer is not None and trainer.world_size > 1:
            share_run_folder(trainer)
        if trainer is not None and self.manifest is not None and trainer.is_global_zero:
            self.save_manifest(Path(trainer.default_root_dir))

    def save_manifest(self, folder: Path) -> Path:
        """Write the split manifest (and the lists of unreadable films and dropped copies, if any) into ``folder``."""
        if self.manifest is None:
            msg = "The datamodule has no split yet; call setup() first."
            raise RuntimeError(msg)
        path = write_manifest(self.manifest, folder / MANIFEST_NAME)
        if self.preprocessing_records is not None:
            self.preprocessing_records.to_csv(folder / RECORDS_NAME, index=False)
        if len(self.rejected_films):
            self._save_rejected(folder)
        if len(self.duplicate_films):
            self.duplicate_films.to_csv(folder / DUPLICATES_NAME, index=False)
        return path

    def _save_rejected(self, folder: Path) -> Path:
        """Write the unreadable films and their reasons into ``folder`` (made if missing); returns the file."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REJECTED_NAME
        self.rejected_films.to_csv(path, index=False)
        return path

    def _load_or_draw_split(self) -> pd.DataFrame:
        if self.manifest_path is not None:
            return read_manifest(self.manifest_path, self.root)
        index = self._read_index()
        on_disk = ~index["image_path"].isin(_missing_films(index, self.root)["image_path"])
        present, self.duplicate_films = drop_duplicate_films(index[on_disk])
        manifest = patient_wise_split(pd.concat([present, index[~on_disk]]), seed=self.seed or 0, mode=self.split_mode)
        check_patient_wise(manifest)
        return manifest


class Mura(XrayDataModule):
    """Patient-wise MURA data: MURA-v1.1's own layout, or the synthetic MURA-like default.

    Args:
        root: A MURA-v1.1 folder (CSVs and/or ``train``/``valid`` folders). ``None`` uses the synthetic default,
            written to ``synthetic_root`` on first use.
        body_parts: Body parts to use (``XR_HAND`` by default, or ``all``).
        mura_parts: MURA parts to read; the paper used ``train`` only. ``split_mode: mura`` needs both.
        mask_dir: Folder below ``root`` with anomaly masks mirroring the image paths (``masks`` for the
            synthetic default); positive films with a mask enable pixel metrics.
        hand_mask_dir: Folder below ``root`` with hand masks mirroring the image paths (``hand_masks`` for the
            synthetic default); ``None`` uses the whole film.
        synthetic_root: Where the synthetic default is written when ``root`` is ``None``.
        synthetic_patients: Patients of the synthetic default.
        synthetic_image_size: Longest side of the synthetic films.
        **kwargs: The shared settings of :class:`XrayDataModule` (split, image size, preprocessing, batches, ...).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        body_parts: str | Sequence[str] = ("XR_HAND",),
        mura_parts: Sequence[str] = ("train",),
        mask_dir: str | None = None,
        hand_mask_dir: str | None = None,
        synthetic_root: str | Path = DEFAULT_SYNTHETIC_ROOT,
        synthetic_patients: int = 240,
        synthetic_image_size: int = 256,
        **kwargs: Any,
    ) -> None:
        self.synthetic = root is None
        super().__init__(
            root=synthetic_root if root is None else root,
            hand_mask_dir=HAND_MASK_DIR if self.synthetic and hand_mask_dir is None else hand_mask_dir,
            **kwargs,
        )
        self.body_parts = [body_parts] if isinstance(body_parts, str) else list(body_parts)
        self.mura_parts = list(mura_parts)
        self.mask_dir = ANOMALY_MASK_DIR if self.synthetic and mask_dir is None else mask_dir
        self.synthetic_patients = synthetic_patients
        self.synthetic_image_size = synthetic_image_size
        self._category = "_".join(sorted(self.body_parts)).lower()

    def _prepare_root(self) -> None:
        if self.synthetic:
            write_synthetic_mura(
                self.root,
                n_patients=self.synthetic_patients,
                seed=0,
                longest_side=self.synthetic_image_size,
            )

    def _read_index(self) -> pd.DataFrame:
        parts = ["train", "valid"] if self.split_mode is SplitMode.MURA else self.mura_parts
        return read_mura_index(self.root, body_parts=self.body_parts, mura_parts=parts)

    def _mask_paths(self, manifest: pd.DataFrame) -> list[str]:
        return mask_column(manifest, self.root, self.mask_dir, only_positive=True)


class FracAtlas(XrayDataModule):
    """FracAtlas as published: real fractures with COCO polygons, each film its own patient.

    Args:
        root: The FracAtlas folder (``dataset.csv``, ``images/{Fractured,Non_fractured}/``, ``Annotations/``).
        body_parts: FracAtlas flags to keep (``hand``, ``leg``, ``hip``, ``shoulder``; several, or ``all``).
        implants: Films with implants (``hardware``): ``include``, ``exclude`` or ``only``.
        reviewed_metal: Films the metal review found metal on without the ``hardware`` flag
            (:func:`~xray_anomalib.data.fracatlas.read_metal_review`): ``include``, ``exclude_in_body`` (implants)
            or ``exclude`` (any metal, clothing and jewellery too).
        coco_file: The COCO annotations, relative to ``root`` (FracAtlas' own path by default); ``None`` when the
            file is absent (no pixel truth then).
        **kwargs: The shared settings of :class:`XrayDataModule` (split, image size, preprocessing, batches, ...).
    """

    def __init__(
        self,
        root: str | Path,
        body_parts: str | Sequence[str] = "all",
        implants: Implants | str = Implants.INCLUDE,
        reviewed_metal: ReviewedMetal | str = ReviewedMetal.INCLUDE,
        coco_file: str | Path | None = FRACATLAS_COCO,
        **kwargs: Any,
    ) -> None:
        super().__init__(root=root, **kwargs)
        self.body_parts = normalise_fracatlas_parts(body_parts)
        self.implants = Implants(implants)
        self.reviewed_metal = ReviewedMetal(reviewed_metal)
        self.coco_file = None if coco_file is None else self.root / coco_file
        implant_names = {Implants.INCLUDE: "", Implants.EXCLUDE: "_no_implants", Implants.ONLY: "_implants_only"}
        parts = "all" if self.body_parts == FRACATLAS_BODY_PARTS else "_".join(self.body_parts)
        metal_names = {
            ReviewedMetal.INCLUDE: "",
            ReviewedMetal.EXCLUDE_IN_BODY: "_no_metal_in_body",
            ReviewedMetal.EXCLUDE: "_no_metal",
        }
        self._category = parts + implant_names[self.implants] + metal_names[self.reviewed_metal]

    def _read_index(self) -> pd.DataFrame:
        return read_fracatlas_index(
            self.root, body_parts=self.body_parts, implants=self.implants, reviewed_metal=self.reviewed_metal
        )

    def _mask_paths(self, manifest: pd.DataFrame) -> list[str]:
        if self.coco_file is None or not self.coco_file.is_file():
            logger.warning("No COCO annotations at %s: FracAtlas films get no pixel truth.", self.coco_file)
            return [""] * len(manifest)
        regions = read_coco_regions(self.coco_file)
        folders = [self.root / "images" / folder for folder in LABEL_FOLDERS.values()]
        _refuse_unknown_films(
            self.coco_file, [name for name in regions if not any((f / name).is_file() for f in folders)]
        )
        return coco_mask_column(manifest, regions, self.coco_file, self.cache_dir, by_name=True)


class LabelledFilms(XrayDataModule):
    """A user's own labelled films: a CSV of ``path,label`` (``patient_id``, ``study_id``, ``body_part`` optional).

    Without a ``patient_id`` column, DICOM films take their patient and study from the DICOM tags and other films
    are their own patient: the log and the manifest's ``patient_source`` column say which.

    Args:
        labels: The CSV; relative paths in it are relative to ``root``.
        root: The films' folder; the CSV's folder by default.
        coco_file: COCO annotations of the anomalous films (``file_name`` is the film's path relative to ``root``),
            relative to ``root`` or absolute.
        mask_dir: Folder below ``root`` with anomaly masks at the films' own relative paths, where there is no COCO
            file.
        **kwargs: The shared settings of :class:`XrayDataModule` (split, image size, preprocessing, batches, ...).
    """

    def __init__(
        self,
        labels: str | Path,
        root: str | Path | None = None,
        coco_file: str | Path | None = None,
        mask_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.labels = Path(labels).expanduser()
        super().__init__(root=self.labels.parent if root is None else root, **kwargs)
        if coco_file is not None and mask_dir is not None:
            msg = "Give either coco_file or mask_dir for the anomaly masks of LabelledFilms, not both."
            raise ValueError(msg)
        self.coco_file = None if coco_file is None else self.root / coco_file
        self.mask_dir = mask_dir
        self._category = self.labels.stem

    def _read_index(self) -> pd.DataFrame:
        return read_labelled_index(self.labels, self.root)

    def _mask_paths(self, manifest: pd.DataFrame) -> list[str]:
        if self.coco_file is not None:
            regions = read_coco_regions(self.coco_file)
            _refuse_unknown_films(self.coco_file, sorted(set(regions) - set(manifest["rel_path"])))
            return coco_mask_column(manifest, regions, self.coco_file, self.cache_dir, by_name=False)
        return mask_column(manifest, self.root, self.mask_dir, only_positive=True)


def coco_mask_column(
    manifest: pd.DataFrame, regions: dict[str, FilmRegions], coco_file: Path, cache_dir: Path, by_name: bool
) -> list[str]:
    """Masks drawn from a COCO file's regions for the films of ``manifest`` ("" for films it does not annotate).

    Args:
        manifest: Rows with ``rel_path``.
        regions: The COCO file's regions (:func:`~xray_anomalib.data.coco.read_coco_regions`).
        coco_file: The COCO file (its identity keys the folder of drawn masks).
        cache_dir: Where the drawn masks are kept.
        by_name: Match COCO's ``file_name`` to the films' file names (FracAtlas) instead of their paths below the
            root.
    """
    keys = [Path(rel).name if by_name else rel for rel in manifest["rel_path"]]
    films = dict(zip(keys, manifest["rel_path"], strict=True))
    masks = write_coco_masks(regions, films, coco_mask_folder(cache_dir, coco_file))
    return [masks.get(rel, "") for rel in manifest["rel_path"]]


def _refuse_unknown_films(coco_file: Path, annotated: list[str]) -> None:
    """Refuse a COCO file that annotates films the collection does not have.

    Raises:
        CocoError: Naming the first such film.
    """
    if annotated:
        more = f" (and {len(annotated) - 1} more)" if len(annotated) > 1 else ""
        msg = f"COCO file {coco_file} annotates {annotated[0]}{more}, which is not a film of the collection."
        raise CocoError(msg)


def _missing_films(index: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Listed films that are not on disk: counted and reported; every film missing means a wrong root.

    Raises:
        FileNotFoundError: When none of the listed films is on disk.
    """
    missing = [path for path in index["image_path"] if not Path(path).is_file()]
    if missing and len(missing) == len(index):
        msg = (
            f"{len(missing)} of {len(index)} films listed for {root} are not on disk, e.g. {missing[0]}. "
            "Is root the collection's folder (for MURA the MURA-v1.1 folder that holds the CSVs and train/valid)?"
        )
        raise FileNotFoundError(msg)
    return pd.DataFrame({"image_path": missing, "reason": [f"{path}: listed but not on disk" for path in missing]})


def _outside_root(paths: pd.Series, root: Path) -> pd.DataFrame:
    """Films whose real path (symbolic links followed) lies outside ``root``: they are never read."""
    real_root = root.resolve()
    outside = [path for path in paths if not Path(path).resolve().is_relative_to(real_root)]
    reason = f"the file resolves outside the dataset root {real_root} (a symbolic link); it is not read"
    return pd.DataFrame({"image_path": outside, "reason": [f"{path}: {reason}" for path in outside]})

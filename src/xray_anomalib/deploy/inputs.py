"""Find the films to score under a file, a folder or a MURA study folder, grouped by study."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from xray_anomalib.io.films import FILM_SUFFIXES

INPUT_SUFFIXES = frozenset({*FILM_SUFFIXES, ""})  # DICOM files often have no suffix


@dataclass(frozen=True)
class FilmInput:
    """One file found under the input.

    Attributes:
        path: The file.
        name: Its path relative to the input folder (its name for a single file), used to name outputs.
        study: The study it belongs to: its folder relative to the input (MURA: ``patient/study``), or the
            input folder's own name for files directly in it.
        skip_reason: Why it is not scored, for files that are not films; empty for films.
        alias: The name outputs show instead of ``name`` (a de-identified DICOM film's pseudonym); empty for most.
    """

    path: Path
    name: str
    study: str
    skip_reason: str = ""
    alias: str = ""

    @property
    def shown(self) -> str:
        """The name outputs give the file: its alias, or its path relative to the input."""
        return self.alias or self.name


def find_inputs(source: str | Path, exclude: str | Path | None = None) -> tuple[list[FilmInput], list[FilmInput]]:
    """Films under ``source`` (sorted), and the other files found there (reported as skipped, never dropped).

    Symbolic links to folders are not followed, so a link loop cannot make the walk endless, and files that
    resolve outside the input folder (links) are not read. FIFOs, sockets and devices are not films and are never
    opened (reading a FIFO would wait forever).

    Args:
        source: A film or a folder.
        exclude: A folder left out of the walk (the run's output folder, when it lies inside ``source``: its
            overlays are not films to score); it is listed once as skipped.

    Raises:
        FileNotFoundError: When ``source`` does not exist or holds no file at all.
    """
    source = Path(source)
    excluded = Path(exclude).resolve() if exclude is not None else None
    if source.is_file():
        found = [FilmInput(source, source.name, source.parent.name or ".")]
    elif source.is_dir():
        found = []
        for folder, subfolders, files in os.walk(source):
            subfolders.sort()
            relative = Path(folder).relative_to(source)
            study = source.resolve().name if relative == Path() else relative.as_posix()
            left_out = _folders_left_out(Path(folder), subfolders, excluded)
            subfolders[:] = [name for name in subfolders if name not in left_out]
            found += [
                FilmInput(Path(folder) / name, (relative / name).as_posix(), study, reason)
                for name, reason in sorted(left_out.items())
            ]
            found += [FilmInput(Path(folder) / name, (relative / name).as_posix(), study) for name in sorted(files)]
    elif source.exists():
        msg = f"Input {source} is not a film or a folder (a FIFO, socket or device); expected a film or a folder."
        raise FileNotFoundError(msg)
    else:
        msg = f"Input {source} does not exist; expected a film, a folder of films or a MURA study folder."
        raise FileNotFoundError(msg)
    if not found:
        msg = f"No files under {source}; expected films ({', '.join(FILM_SUFFIXES)} or DICOM)."
        raise FileNotFoundError(msg)
    films, skipped = [], []
    real_source = (source if source.is_dir() else source.parent).resolve()
    for item in found:
        if item.skip_reason:
            skipped.append(item)
        elif not item.path.resolve().is_relative_to(real_source):
            skipped.append(replace(item, skip_reason=f"a link to a file outside {real_source}, not read"))
        elif item.path.exists() and not item.path.is_file():
            skipped.append(replace(item, skip_reason="not a regular file (a FIFO, socket or device), not read"))
        elif item.path.name.startswith(".") or item.path.suffix.lower() not in INPUT_SUFFIXES:
            skipped.append(replace(item, skip_reason="not a film (hidden file or not a film suffix)"))
        else:
            films.append(item)
    return films, skipped


def _folders_left_out(folder: Path, subfolders: list[str], excluded: Path | None) -> dict[str, str]:
    """``name -> reason`` of the subfolders the walk does not enter: links to folders, and the excluded folder."""
    left_out = {}
    for name in subfolders:
        if (folder / name).is_symlink():
            left_out[name] = "a link to a folder, not followed"
        elif excluded is not None and (folder / name).resolve() == excluded:
            left_out[name] = "this run's output folder, not scored"
    return left_out

"""Writing an output folder atomically.

Everything is written into a temporary folder beside the destination, ``.<DIR>.tmp-<pid>``,
which replaces the destination only once complete: the old folder (if any) is renamed aside to
``.<DIR>.old-<pid>``, the new one renamed into place, the old one deleted. An interrupted or
failed run therefore leaves the destination as it was. What an interrupted run leaves behind
(a process killed outright cannot clean up) is cleaned by the next run into the same
destination: temporary folders of processes that no longer run are deleted, and a previous
folder left aside between the two renames is put back.

A destination that exists but is not an output folder of this program (no ``summary.json``)
is never replaced: the user may have pointed ``--out`` at a folder of their own.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["OutputFolderError", "MARKER", "atomic_folder", "clean_stale", "temp_folder_for"]

MARKER = "summary.json"
"""The file whose presence marks a folder as a previous run's output (safe to replace)."""


class OutputFolderError(Exception):
    """The destination cannot be used (not a folder, someone else's folder, not writable)."""


def temp_folder_for(destination: Path, pid: int | None = None) -> Path:
    """``.<name>.tmp-<pid>`` beside ``destination``."""
    return destination.parent / f".{destination.name}.tmp-{os.getpid() if pid is None else pid}"


def _aside_for(destination: Path, pid: int | None = None) -> Path:
    return destination.parent / f".{destination.name}.old-{os.getpid() if pid is None else pid}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of an earlier run that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    except OSError:
        return False
    return True


def clean_stale(destination: Path) -> list[Path]:
    """Remove what interrupted runs into ``destination`` left behind; return what was removed.

    Temporary folders whose process is gone are deleted. A previous output left aside by a run
    killed between its two renames is moved back when the destination is missing, else deleted.
    """
    destination = Path(destination)
    parent = destination.parent
    if not parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(destination.name)}\.(tmp|old)-(\d+)$")
    removed = []
    for entry in sorted(parent.iterdir()):
        match = pattern.match(entry.name)
        if not match or _alive(int(match.group(2))):
            continue
        if match.group(1) == "old" and not destination.exists() and entry.is_dir():
            entry.rename(destination)
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def check_destination(destination: Path) -> None:
    """Raise :class:`OutputFolderError` unless ``destination`` may be written (or replaced)."""
    if destination.exists() or destination.is_symlink():
        if not destination.is_dir() or destination.is_symlink():
            raise OutputFolderError(f"{destination}: exists and is not a folder; choose another --out")
        cwd = Path.cwd().resolve()
        if destination.resolve() == cwd or destination.resolve() in cwd.parents:
            raise OutputFolderError(f"{destination}: is the current folder or contains it; choose another --out")
        if any(destination.iterdir()) and not (destination / MARKER).is_file():
            raise OutputFolderError(
                f"{destination}: exists and is not a saas-sim output folder (no {MARKER}); "
                "it is left alone: choose another --out, or remove it")


@contextmanager
def atomic_folder(destination: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``destination``.

    On any exception (``KeyboardInterrupt`` and ``SystemExit`` included) the temporary folder
    is deleted and ``destination`` is left untouched.

    Raises
    ------
    OutputFolderError
        When ``destination`` exists and is not a previous output folder, or cannot be created.
    """
    destination = Path(destination).absolute()
    check_destination(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"{destination.parent}: cannot create the folder: {exc.strerror or exc}") from None
    clean_stale(destination)
    temp = temp_folder_for(destination)
    _remove(temp)
    try:
        temp.mkdir()
    except OSError as exc:
        raise OutputFolderError(f"{destination.parent}: cannot write here: {exc.strerror or exc}") from None
    try:
        yield temp
        _replace(temp, destination)
    except BaseException:
        _remove(temp)
        raise


def _replace(temp: Path, destination: Path) -> None:
    """Move ``temp`` into place of ``destination`` (which may exist)."""
    check_destination(destination)  # it may have changed while the run was going
    if not destination.exists():
        temp.rename(destination)
        return
    aside = _aside_for(destination)
    _remove(aside)
    destination.rename(aside)
    try:
        temp.rename(destination)
    except BaseException:
        aside.rename(destination)
        raise
    _remove(aside)

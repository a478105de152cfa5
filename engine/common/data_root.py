"""The data folder a server reads studies from: nothing outside it is read or listed.

The dashboard is started with a data folder (``--data-root``); every path a browser user picks is relative to it and
resolved here: ``..``, an absolute path elsewhere and a symbolic link that points out of the folder are refused by
name, before any file is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ValidationError

TABLE_SUFFIXES = (".csv", ".xlsx", ".xls", ".parquet")


def inside(root: str | Path, relative: str | Path) -> Path:
    """The real path of ``relative`` under ``root`` (symbolic links followed); a ValidationError when it leaves it."""
    base = Path(root).resolve()
    wanted = Path(relative)
    candidate = (base / wanted).resolve()  # an absolute ``relative`` replaces the base: resolved and checked too
    if candidate != base and base not in candidate.parents:
        raise ValidationError(
            f"path {str(relative)!r} leaves the data folder {base}; pick a file inside it (paths are relative to "
            "the data folder; '..' and links pointing out of it are refused)."
        )
    return candidate


def tables_in(root: str | Path, *, limit: int = 500) -> list[str]:
    """The tables (CSV, XLSX, Parquet) under ``root``, as paths relative to it, sorted; hidden folders, the run store
    and links pointing out of the folder are left out."""
    base = Path(root).resolve()
    found = []
    for folder, folders, files in os.walk(base, followlinks=False):
        here = Path(folder)
        folders[:] = sorted(
            f for f in folders if not f.startswith(".") and f not in ("store", "__pycache__") and _kept(base, here / f)
        )
        for name in sorted(files):
            path = here / name
            if name.lower().endswith(TABLE_SUFFIXES) and not name.startswith(".") and _kept(base, path):
                found.append(str(path.relative_to(base)))
                if len(found) >= limit:
                    return found
    return found


def _kept(base: Path, path: Path) -> bool:
    try:
        inside(base, path)
    except ValidationError:
        return False
    return True

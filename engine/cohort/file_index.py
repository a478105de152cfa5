"""What was read from each image or mask file (its SHA-256, its header, a mask's labels), remembered by path, size
and modification time in one SQLite file, so that a warm start reads no image at all.

A file whose size or modification time changed is read again (as make, rsync and git's index decide); a DICOM
series folder is keyed by the names, sizes and modification times of every file in it. Without an index
(``FileIndex(None)``) every value is computed, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

SCHEMA = "CREATE TABLE IF NOT EXISTS files (path TEXT, kind TEXT, signature TEXT, value TEXT, PRIMARY KEY (path, kind))"


def signature(path: str | Path) -> str:
    """Size and modification time of a file, or of every file in a folder (a DICOM series)."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = item.stat()
            digest.update(f"{item.relative_to(path).as_posix()}|{stat.st_size}|{stat.st_mtime_ns};".encode())
        return "dir:" + digest.hexdigest()
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class FileIndex:
    """``get(path, kind, compute)``: the value remembered for the file as it is now, else ``compute()`` (JSON-able),
    remembered. ``path=None``: nothing is remembered."""

    def __init__(self, path: str | Path | None, workers: int = 1):
        self.path = Path(path) if path is not None else None
        self.workers = workers  # local processes for prefetch
        self._known: dict[tuple[str, str], tuple[str, str]] = {}
        self._new: list[tuple[str, str, str, str]] = []
        self._signatures: dict[str, str] = {}  # one stat per file per load
        if self.path is not None and self.path.exists():
            try:
                with sqlite3.connect(self.path, timeout=30) as connection:
                    connection.execute(SCHEMA)
                    rows = connection.execute("SELECT path, kind, signature, value FROM files").fetchall()
                self._known = {(p, k): (s, v) for p, k, s, v in rows}
            except sqlite3.DatabaseError:  # a damaged index is only a cache: start a new one
                self.path.unlink(missing_ok=True)

    def get(self, path: str | Path, kind: str, compute: Callable[[], Any]) -> Any:
        if self.path is None:
            return compute()
        name, current, known = self._lookup(path, kind)
        if known is not None:
            return json.loads(known)
        value = compute()
        self._remember(name, kind, current, value)
        return value

    def _lookup(self, path: str | Path, kind: str) -> tuple[str, str, str | None]:
        """(absolute path, the file's signature now, the remembered JSON text or None when absent or stale)."""
        name = os.path.abspath(path)
        current = self._signatures.get(name) or self._signatures.setdefault(name, signature(name))
        known = self._known.get((name, kind))
        return name, current, known[1] if known is not None and known[0] == current else None

    def _remember(self, name: str, kind: str, current: str, value: Any) -> None:
        text = json.dumps(value)
        self._known[(name, kind)] = (current, text)
        self._new.append((name, kind, current, text))

    def prefetch(self, wanted: Iterable[tuple[str, str]], compute: Mapping[str, Callable[[str], Any]]) -> None:
        """Compute the (path, kind) entries not remembered yet on ``workers`` local processes, so that ``get`` then
        finds them; ``compute``: kind -> a picklable function of the path. An entry whose computation fails is left
        for ``get``, which raises where the caller reports it."""
        if self.path is None or self.workers <= 1:
            return
        todo = []
        for path, kind in dict.fromkeys(wanted):
            name, current, known = self._lookup(path, kind)
            if known is None:
                todo.append((name, kind, current))
        if len(todo) < 2 * self.workers:
            return
        from joblib import Parallel, delayed

        values = Parallel(n_jobs=self.workers, batch_size=16)(
            delayed(_computed)(compute[kind], name) for name, kind, _ in todo
        )
        for (name, kind, current), (computed, value) in zip(todo, values):
            if computed:
                self._remember(name, kind, current, value)

    def save(self) -> None:
        """Write what was computed since the index was opened (one transaction)."""
        if self.path is None or not self._new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path, timeout=30) as connection:
            connection.execute(SCHEMA)
            connection.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", self._new)
        self._new = []


def _computed(function: Callable[[str], Any], path: str) -> tuple[bool, Any]:
    try:
        return True, function(path)
    except Exception:  # noqa: BLE001 - computed again by get(), where the caller reports it with its row
        return False, None


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for item in files:
        if item.is_file():
            with open(item, "rb") as handle:
                while block := handle.read(chunk):
                    digest.update(block)
    return digest.hexdigest()

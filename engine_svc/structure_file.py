"""`--structure-file`: the engine's market structure from a file, at start and whenever the file changes.

The file is the document `polyarbctl structure push FILE` takes (polyarb/runtime/documents.py reads
both). On Kubernetes it is the shard's ConfigMap, so an engine that restarts trades its groups again
without waiting for a push.

- At start a missing or invalid file stops the engine (exit 2, one line): it would trade nothing.
- While running, the file is checked every `interval_s` (2 s; the issue asks for at least every 5).
  A changed file (its bytes, not only its mtime: a ConfigMap update swaps a symlink and may keep
  times) is validated whole and swapped in like `UpdateMarketStructure`; a bad one is refused with
  a logged reason and a counted error, and the running structure keeps trading.
- A structure pushed by RPC wins until the file changes again: only a change of the file applies it,
  so an unchanged file never overwrites a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pathlib
from collections.abc import Callable

from engine_svc import metrics
from engine_svc.structure import StructureError, compile_structure
from polyarb.runtime.documents import InputError, load_document, structure_message
from polyarb.runtime.metrics import ErrorCounter
from polyarb.v1 import engine_pb2

__all__ = ["CHECK_INTERVAL_S", "StructureFileWatcher", "read_structure_file"]

log = logging.getLogger("engine.structure_file")
errors = ErrorCounter("engine")
CHECK_INTERVAL_S = 2.0

Apply = Callable[[engine_pb2.MarketStructure], object]  # raises StructureError to refuse


def read_structure_file(path: pathlib.Path) -> engine_pb2.MarketStructure:
    """The file's structure, validated whole; InputError or StructureError naming the first fault."""
    structure = structure_message(load_document(path), str(path))
    compile_structure(structure)  # the same validation UpdateMarketStructure runs; raises StructureError
    return structure


def _digest(path: pathlib.Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _stat_key(path: pathlib.Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)  # follows symlinks: a ConfigMap's ..data swap changes the inode
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class StructureFileWatcher:
    """Applies the file's structure when its content changes; `check()` is one look (tests call it)."""

    def __init__(self, path: pathlib.Path, apply: Apply, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.path = path
        self.apply = apply
        self.interval_s = interval_s
        self._stat = _stat_key(path)
        self._digest = _digest(path)  # what start-up loaded
        self._missing_logged = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="structure-file")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.check()
            except Exception as exc:  # the watcher must outlive whatever one look hit
                errors("structure_file", "checking the structure file failed", level=logging.ERROR,
                       path=str(self.path), error=repr(exc)[:200])

    def check(self) -> bool:
        """Apply the file if its content changed since the last look; True when a new structure is in force."""
        stat = _stat_key(self.path)
        if stat is None:
            if not self._missing_logged:  # a ConfigMap swap can hide it for a moment; say it once
                errors("structure_file", "structure file unreadable; the running structure stays",
                       path=str(self.path))
                self._missing_logged = True
            return False
        self._missing_logged = False
        if stat == self._stat:
            return False
        self._stat = stat
        digest = _digest(self.path)
        if digest is None or digest == self._digest:
            return False
        self._digest = digest  # judged once per content: a refused file is not re-logged every look
        try:
            structure = structure_message(load_document(self.path), str(self.path))
            self.apply(structure)
        except (InputError, StructureError) as exc:
            metrics.STRUCTURE_FILE_LOADS.labels("refused").inc()
            errors("bad_structure_file", "structure file refused; the running structure keeps trading",
                   path=str(self.path), reason=str(exc)[:500])
            return False
        metrics.STRUCTURE_FILE_LOADS.labels("applied").inc()
        log.info("structure file applied", extra={"path": str(self.path), "version": structure.version,
                                                   "trios": len(structure.trios), "sets": len(structure.sets)})
        return True

"""Writing a file so that a reader sees the old content or the new one, never half of either.

A temp file in the same directory, fsynced, then renamed over the target: rename is atomic within a
file system, so an engine watching a structure file, or an executor reading its API credentials,
never reads a file still being written. The mode is set on the temp file before any byte is written,
so a secret is never readable by others, not even for a moment.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile


def write_atomically(path: pathlib.Path, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` (OSError when the directory cannot be written)."""
    directory = path.parent if str(path.parent) else pathlib.Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(fd, mode)  # mkstemp made it 0600; widen (or keep) before the content goes in
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise

"""Key files in IDGATE_CERTS_DIR, shared by every worker and instance: written whole (a reader never
sees half a key) with the owner's permissions, and created by one starter while the others wait."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


def write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` at once (a temporary file renamed over it), readable as `mode` says."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@contextmanager
def locked(folder: Path, name: str):
    """Hold the folder's lock called `name` (one per kind of key) until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield

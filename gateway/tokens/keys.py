"""Token signing keys (ES256, joserfc): the current key signs, the previous one stays in the JWKS.

Files in IDGATE_CERTS_DIR, shared by every instance: `jwt-current.pem` and, after a rotation,
`jwt-previous.pem`. Instances notice a rotation by the files' modification time.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from joserfc.jwk import ECKey, KeySet

from gateway import keyfiles

CURRENT, PREVIOUS = "jwt-current.pem", "jwt-previous.pem"
ALGORITHM = "ES256"
_lock = threading.Lock()
_cache: dict = {}


def _write_private(path: Path, key: ECKey) -> None:
    keyfiles.write(path, key.as_pem(private=True))


def ensure_signing_key(certs_dir: str) -> None:
    """Create the current key if there is none (idempotent, safe with several starters)."""
    folder = Path(certs_dir)
    if (folder / CURRENT).exists():
        return
    with keyfiles.locked(folder, "jwt"):
        if not (folder / CURRENT).exists():
            _write_private(folder / CURRENT, ECKey.generate_key("P-256", private=True))


def rotate(certs_dir: str) -> str:
    """A new current key; the old one becomes the previous (still published). Returns the new kid."""
    folder = Path(certs_dir)
    ensure_signing_key(certs_dir)
    with keyfiles.locked(folder, "jwt"):
        os.replace(folder / CURRENT, folder / PREVIOUS)
        key = ECKey.generate_key("P-256", private=True)
        _write_private(folder / CURRENT, key)
    _cache.pop(certs_dir, None)  # this instance switches at once; others within RECHECK_SECONDS
    return key.thumbprint()


def _load(path: Path) -> ECKey:
    key = ECKey.import_key(path.read_bytes())
    key.ensure_kid()  # RFC 7638 thumbprint
    return key


# How long loaded keys are trusted before the files are looked at again: a rotation on one
# instance reaches the others within this time.
RECHECK_SECONDS = 1.0


def signing_keys(certs_dir: str) -> tuple[ECKey, list[ECKey]]:
    """(the current key, every published key), reloaded when the files change."""
    cached = _cache.get(certs_dir)
    if cached and time.monotonic() - cached[2] < RECHECK_SECONDS:
        return cached[1]
    folder = Path(certs_dir)
    ensure_signing_key(certs_dir)
    stamps = tuple((name, (folder / name).stat().st_mtime_ns) for name in (CURRENT, PREVIOUS)
                   if (folder / name).exists())
    with _lock:
        cached = _cache.get(certs_dir)
        if cached and cached[0] == stamps:
            _cache[certs_dir] = (stamps, cached[1], time.monotonic())
            return cached[1]
        current = _load(folder / CURRENT)
        published = [current] + ([_load(folder / PREVIOUS)] if (folder / PREVIOUS).exists() else [])
        _cache[certs_dir] = (stamps, (current, published), time.monotonic())
        return current, published


def jwks(certs_dir: str) -> dict:
    """The JSON Web Key Set: public halves only, each with kid, use and alg."""
    _, published = signing_keys(certs_dir)
    keys = []
    for key in published:
        entry = key.as_dict(private=False)
        entry.update(use="sig", alg=ALGORITHM)
        keys.append(entry)
    return {"keys": keys}


def key_set(certs_dir: str) -> KeySet:
    return KeySet(signing_keys(certs_dir)[1])

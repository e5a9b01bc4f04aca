"""Sealing second-factor secrets (TOTP seeds) with keys kept beside the signing keys, not in the database.

`mfa-keys` in IDGATE_CERTS_DIR holds Fernet keys (AES-128-CBC + HMAC-SHA256, `cryptography`), one a
line, newest first: the newest seals, every one opens. `idgate keys rotate` puts a new key first
and reseals every stored secret with it (`reseal`); a stolen database alone opens nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway import keyfiles

KEYS = "mfa-keys"


def _path(certs_dir: str) -> Path:
    return Path(certs_dir) / KEYS


def _write(path: Path, keys: list[bytes]) -> None:
    keyfiles.write(path, b"\n".join(keys) + b"\n")


def _locked(folder: Path):
    return keyfiles.locked(folder, "mfa")


def _keys(certs_dir: str) -> list[bytes]:
    path = _path(certs_dir)
    if not path.exists():
        with _locked(path.parent):
            if not path.exists():
                _write(path, [Fernet.generate_key()])
    return [line.strip() for line in path.read_bytes().splitlines() if line.strip()]


# The keys of each certs folder, read once per version of its file: every second step with an app's
# code opens a secret, and reading and parsing the file each time cost more than the opening. A file
# is only ever replaced whole (gateway.keyfiles.write: a new inode), so its stat names its version,
# and a key added or dropped by any process is seen by the next call here.
_boxes: dict[str, tuple[tuple[int, int, int], MultiFernet]] = {}


def _box(certs_dir: str) -> MultiFernet:
    try:
        found = os.stat(_path(certs_dir))
    except FileNotFoundError:
        _keys(certs_dir)  # made here, by one starter while the others wait
        found = os.stat(_path(certs_dir))
    version = (found.st_ino, found.st_mtime_ns, found.st_size)
    cached = _boxes.get(certs_dir)
    if cached is not None and cached[0] == version:
        return cached[1]
    # Read after the stat: what is cached is never older than the version it is kept under.
    box = MultiFernet([Fernet(key) for key in _keys(certs_dir)])
    _boxes[certs_dir] = (version, box)
    return box


def seal(certs_dir: str, secret: str) -> str:
    return _box(certs_dir).encrypt(secret.encode()).decode()


def unseal(certs_dir: str, sealed: str) -> str:
    """:raise InvalidToken: sealed with a key this gateway no longer has."""
    return _box(certs_dir).decrypt(sealed.encode()).decode()


def add_key(certs_dir: str) -> None:
    """A new sealing key, first: it seals from now on; the older ones still open what they sealed."""
    keys = _keys(certs_dir)
    with _locked(_path(certs_dir).parent):
        _write(_path(certs_dir), [Fernet.generate_key(), *keys])


def reseal(certs_dir: str, sealed: str) -> str:
    """`sealed`, sealed again with the newest key."""
    return _box(certs_dir).rotate(sealed.encode()).decode()


def keep_newest(certs_dir: str, count: int) -> None:
    """Forget all but the newest `count` keys (once every secret is sealed with a newer one)."""
    keys = _keys(certs_dir)
    with _locked(_path(certs_dir).parent):
        _write(_path(certs_dir), keys[:count])


__all__ = ["InvalidToken", "add_key", "keep_newest", "reseal", "seal", "unseal"]

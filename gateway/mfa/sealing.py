"""Sealing second-factor secrets (TOTP seeds) with keys kept beside the signing keys, not in the database.

`mfa-keys` in IDGATE_CERTS_DIR holds Fernet keys (AES-128-CBC + HMAC-SHA256, `cryptography`), one a
line, newest first: the newest seals, every one opens. `idgate keys rotate` puts a new key first
and reseals every stored secret with it (`reseal`); a stolen database alone opens nothing.
"""

from __future__ import annotations

import os
import threading
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


class _Box:
    """The keys of one version of the key file, and what `unseal(remember=True)` opened with them."""

    def __init__(self, keys: list[bytes]):
        self.fernet = MultiFernet([Fernet(key) for key in keys])
        self.opened: dict[str, str] = {}


_boxes: dict[str, tuple[tuple, _Box]] = {}
_boxes_lock = threading.Lock()
_MAX_REMEMBERED = 64


def _box(certs_dir: str) -> _Box:
    # Kept while the key file is the same file (a stat per sign-in, not a read and a parse): a rotation,
    # in this process or another, replaces the file (keyfiles.write), which changes its inode. The version
    # is taken before the read, so a file replaced meanwhile is read again on the next call.
    try:
        stat = os.stat(os.path.join(certs_dir, KEYS))  # (not through pathlib: this runs at every sign-in)
    except FileNotFoundError:
        return _Box(_keys(certs_dir))  # made now; kept from the next call
    version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _boxes.get(certs_dir)
    if cached is not None and cached[0] == version:
        return cached[1]
    box = _Box(_keys(certs_dir))
    with _boxes_lock:
        _boxes[certs_dir] = (version, box)
    return box


def seal(certs_dir: str, secret: str) -> str:
    return _box(certs_dir).fernet.encrypt(secret.encode()).decode()


def unseal(certs_dir: str, sealed: str, *, remember: bool = False) -> str:
    """`remember`: kept opened while the key file stays the same (an IdP's client secret, opened at
    every sign-in through it); a rotation or a key dropped opens it afresh, or refuses it.

    :raise InvalidToken: sealed with a key this gateway no longer has.
    """
    box = _box(certs_dir)
    if remember and (secret := box.opened.get(sealed)) is not None:
        return secret
    secret = box.fernet.decrypt(sealed.encode()).decode()
    if remember:
        if len(box.opened) >= _MAX_REMEMBERED:
            box.opened.clear()
        box.opened[sealed] = secret
    return secret


def add_key(certs_dir: str) -> None:
    """A new sealing key, first: it seals from now on; the older ones still open what they sealed."""
    keys = _keys(certs_dir)
    with _locked(_path(certs_dir).parent):
        _write(_path(certs_dir), [Fernet.generate_key(), *keys])


def reseal(certs_dir: str, sealed: str) -> str:
    """`sealed`, sealed again with the newest key."""
    return _box(certs_dir).fernet.rotate(sealed.encode()).decode()


def keep_newest(certs_dir: str, count: int) -> None:
    """Forget all but the newest `count` keys (once every secret is sealed with a newer one)."""
    keys = _keys(certs_dir)
    with _locked(_path(certs_dir).parent):
        _write(_path(certs_dir), keys[:count])


__all__ = ["InvalidToken", "add_key", "keep_newest", "reseal", "seal", "unseal"]

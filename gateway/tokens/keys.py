"""Token signing keys (joserfc): per algorithm, the current key signs and the previous one stays in
the JWKS, so that tokens signed before a rotation still verify.

Files in IDGATE_CERTS_DIR, shared by every instance: ES256 (`jwt-current.pem`, `jwt-previous.pem`)
signs the downstream JWT and the ID tokens of clients that ask for it; RS256 (`rsa-current.pem`,
`rsa-previous.pem`) signs ID tokens by default (the algorithm every OpenID Connect client must
accept). `idgate keys rotate` rotates both. Instances notice a rotation by the files' modification time.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from joserfc.jwk import ECKey, KeySet, RSAKey

from gateway import keyfiles


class Family(NamedTuple):
    alg: str
    current: str
    previous: str
    kind: type

    def generate(self):
        if self.kind is RSAKey:
            return RSAKey.generate_key(2048, private=True)
        return ECKey.generate_key("P-256", private=True)


EC = Family("ES256", "jwt-current.pem", "jwt-previous.pem", ECKey)
RSA = Family("RS256", "rsa-current.pem", "rsa-previous.pem", RSAKey)
FAMILIES = (EC, RSA)
CURRENT, PREVIOUS = EC.current, EC.previous
ALGORITHM = EC.alg  # the downstream JWT's
_lock = threading.Lock()
_cache: dict = {}


def ensure_signing_key(certs_dir: str, family: Family = EC) -> None:
    """Create the current key if there is none (idempotent, safe with several starters)."""
    folder = Path(certs_dir)
    if (folder / family.current).exists():
        return
    with keyfiles.locked(folder, family.alg.lower() if family is not EC else "jwt"):
        if not (folder / family.current).exists():
            keyfiles.write(folder / family.current, family.generate().as_pem(private=True))


def rotate(certs_dir: str) -> str:
    """A new current key of every algorithm; the old ones become the previous (still published).
    Returns the new ES256 kid."""
    folder = Path(certs_dir)
    kids = {}
    for family in FAMILIES:
        ensure_signing_key(certs_dir, family)
        with keyfiles.locked(folder, family.alg.lower() if family is not EC else "jwt"):
            os.replace(folder / family.current, folder / family.previous)
            key = family.generate()
            keyfiles.write(folder / family.current, key.as_pem(private=True))
        kids[family] = key.thumbprint()
        _cache.pop((certs_dir, family), None)  # this instance switches at once; others within RECHECK_SECONDS
    return kids[EC]


def _load(path: Path, family: Family):
    key = family.kind.import_key(path.read_bytes())
    key.ensure_kid()  # RFC 7638 thumbprint
    return key


# How long loaded keys are trusted before the files are looked at again: a rotation on one
# instance reaches the others within this time.
RECHECK_SECONDS = 1.0


def signing_keys(certs_dir: str, family: Family = EC) -> tuple:
    """(the current key, every published key) of one algorithm, reloaded when the files change."""
    cached = _cache.get((certs_dir, family))
    if cached and time.monotonic() - cached[2] < RECHECK_SECONDS:
        return cached[1]
    folder = Path(certs_dir)
    ensure_signing_key(certs_dir, family)
    stamps = tuple((name, (folder / name).stat().st_mtime_ns) for name in (family.current, family.previous)
                   if (folder / name).exists())
    with _lock:
        cached = _cache.get((certs_dir, family))
        if cached and cached[0] == stamps:
            _cache[(certs_dir, family)] = (stamps, cached[1], time.monotonic())
            return cached[1]
        current = _load(folder / family.current, family)
        published = [current] + ([_load(folder / family.previous, family)]
                                 if (folder / family.previous).exists() else [])
        _cache[(certs_dir, family)] = (stamps, (current, published), time.monotonic())
        return current, published


def family_of(alg: str) -> Family:
    return RSA if alg == RSA.alg else EC


def jwks(certs_dir: str) -> dict:
    """The JSON Web Key Set: public halves only, each with kid, use and alg."""
    keys = []
    for family in FAMILIES:
        for key in signing_keys(certs_dir, family)[1]:
            entry = key.as_dict(private=False)
            entry.update(use="sig", alg=family.alg)
            keys.append(entry)
    return {"keys": keys}


def key_set(certs_dir: str, family: Family = EC) -> KeySet:
    return KeySet(signing_keys(certs_dir, family)[1])

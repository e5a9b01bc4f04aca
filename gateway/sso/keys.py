"""The SP's signing key pair in IDGATE_CERTS_DIR, generated on first need (and by `idgate init`).

Every instance must use the same pair: share the folder (a volume, a secret store).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway import keyfiles

KEY_FILE, CERT_FILE = "saml-sp.key", "saml-sp.crt"


def ensure_sp_keypair(certs_dir: str, common_name: str = "idgate SAML SP") -> tuple[Path, Path]:
    """Create the key and certificate if either is missing; returns their paths."""
    folder = Path(certs_dir)
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    # Several workers may start at once: one generates, the others wait and read.
    with keyfiles.locked(folder, "saml-sp"):
        if not (key_path.exists() and cert_path.exists()):
            key_pem, cert_pem = _generate(common_name)
            keyfiles.write(key_path, key_pem, 0o600)
            keyfiles.write(cert_path, cert_pem, 0o644)
    return key_path, cert_path


def _generate(common_name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@lru_cache(maxsize=8)
def _read(key_path: Path, cert_path: Path, _mtime: float) -> tuple[str, str]:
    return key_path.read_text(), cert_path.read_text()


# How long a loaded pair is trusted before the files are looked at again (as for token keys):
# every ACS post needs the pair, and four stat calls per sign-in add up.
RECHECK_SECONDS = 1.0
_checked: dict[str, tuple[float, tuple[str, str]]] = {}


def sp_keypair(certs_dir: str) -> tuple[str, str]:
    """(private key PEM, certificate PEM)."""
    checked = _checked.get(certs_dir)
    if checked and time.monotonic() - checked[0] < RECHECK_SECONDS:
        return checked[1]
    key_path, cert_path = ensure_sp_keypair(certs_dir)
    pair = _read(key_path, cert_path, max(key_path.stat().st_mtime, cert_path.stat().st_mtime))
    _checked[certs_dir] = (time.monotonic(), pair)
    return pair

"""Keeping secrets out of log lines."""

from __future__ import annotations

import re

# Paths that carry a secret in themselves.
_SECRET_PATHS = re.compile(r"^(/invite/)[^/?#\s]+")


def redact_path(path: str) -> str:
    """`/invite/<code>` becomes `/invite/[redacted]`; other paths pass unchanged."""
    return _SECRET_PATHS.sub(r"\1[redacted]", path or "")

"""The one place where `next`, `rd` and RelayState targets are checked."""

from __future__ import annotations

from typing import Callable
from urllib.parse import unquote, urlsplit

from flask import current_app, url_for


def is_safe_redirect(url: str | None, allowed_hosts: tuple[str, ...] | None = None) -> bool:
    """True for a local path, or an http(s) URL on an allowed host.

    Refuses what browsers read as another host: `//evil`, `/\\evil`, `https:evil`,
    `https://good@evil`, control characters, and the same tricks percent-encoded.
    """
    if not url or len(url) > 2048:
        return False
    if allowed_hosts is None:
        allowed_hosts = current_app.extensions["idgate.settings"].allowed_redirect_hosts
    # Judge the decoded form too: some proxies and servers decode once more before redirecting.
    return all(_safe(candidate, allowed_hosts) for candidate in {url, unquote(url)})


def _safe(url: str, allowed_hosts: tuple[str, ...]) -> bool:
    # Control characters and backslashes get "fixed" by browsers into other URLs; surrounding
    # spaces get stripped, turning " //evil" into "//evil".
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in url) or "\\" in url or url != url.strip():
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[::1": an unclosed IPv6 bracket is no URL to send anyone to
        return False
    if not parts.scheme and not parts.netloc:
        # A path only: it must start with exactly one slash.
        return url.startswith("/") and not url.startswith("//")
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or "@" in parts.netloc:
        return False
    return parts.netloc.lower() in allowed_hosts


def safe_next(url: str | None) -> str | None:
    """`url` when it is safe to send someone to later, else None (a `next` kept for after a step)."""
    return url if is_safe_redirect(url) else None


def safe_redirect_target(url: str | None, default: str | Callable[[], str]) -> str:
    """`url` when it is safe, else the default; a callable default is only built when needed."""
    return safe_next(url) or (default() if callable(default) else default)


def account_page() -> str:
    """Where a sign-in lands without a usable `next`."""
    return url_for("accounts.account")

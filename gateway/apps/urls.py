"""The original URL of a forward-auth request, read once, into what apps are found by.

A reverse proxy hands forward-auth the URL it is about to serve (`X-Original-URL`, or
one built from X-Forwarded-Proto/-Host/-Uri). It is normalised here, once, into a
`Target` (host key, decoded path) that the registered hosts and path prefixes, keyed by
`host_key` and `prefix_key`, are then matched against elsewhere with plain string
comparisons. Whatever could be read two ways (by us and by the app behind the proxy) is
refused with `BadUrl` rather than guessed at: Authelia let a malformed URI through
nginx's auth_request (CVE-2021-32637) and skipped a rule for an upper-case host
(CVE-2026-48794).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import NamedTuple
from urllib.parse import unquote

import idna

MAX_URL_LENGTH = 8192
MAX_HOST_LENGTH = 253
_MAX_AUTHORITY_LENGTH = MAX_HOST_LENGTH + 1 + 6  # a trailing dot and ":65535"

_HTTP = ("80",)
_HTTPS = ("443",)
_ANY_DEFAULT = ("80", "443")  # an admin's host[:port] has no scheme to pick one by

# After the scheme: the authority, then the path (query and fragment are not matched).
_AUTHORITY_PATH = re.compile(r"([^/?#]*)([^?#]*)")
# Labels of 1..63 letters, digits, "_" and inner "-"; checked on the lower-cased host.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
# ASCII a Unicode host must not carry into IDNA (which could map or drop it).
_ASCII_JUNK = re.compile(r"[^\x80-\U0010ffffA-Za-z0-9._-]")
_HEX = "0123456789abcdef"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Two headers joined by the proxy or the WSGI server ("a,b" or "a, b"): the first
# may be the client's own.
_JOINED = re.compile(r",\s*https?://", re.IGNORECASE)


class BadUrl(ValueError):
    """The URL cannot be read with certainty: forward-auth denies it."""


class Target(NamedTuple):
    """Where a request goes, in the form registered hosts and prefixes are keyed by."""

    host: str  # lower-case ASCII (punycode), no trailing dot, port only if not default
    path: str  # decoded, no dot segments or "//", starts with "/"


def target_of(url: str) -> Target:
    """The `Target` of an original URL; `BadUrl` for anything not read for certain."""
    if not isinstance(url, str):
        raise BadUrl("not text")
    if not url or len(url) > MAX_URL_LENGTH:
        raise BadUrl("empty or too long")
    # isprintable() is False for every control, format and whitespace character but " ".
    if " " in url or not url.isprintable():
        raise BadUrl("whitespace or a control character")
    if url.startswith("https://"):
        defaults, start = _HTTPS, 8
    elif url.startswith("http://"):
        defaults, start = _HTTP, 7
    else:
        colon = url.find("://")
        scheme = url[:colon].lower() if colon in (4, 5) else ""
        if scheme not in ("http", "https"):
            raise BadUrl("not an http(s) URL")
        defaults, start = (_HTTPS if scheme == "https" else _HTTP), colon + 3
    if url.find("://", start) >= 0 and _JOINED.search(url, start):
        raise BadUrl("two URLs in one")
    authority, path = _AUTHORITY_PATH.match(url, start).groups()
    if len(authority) > _MAX_AUTHORITY_LENGTH:  # also bounds what the cache holds
        raise BadUrl("host too long")
    host = _authority_key(authority, defaults)
    if not path:
        return Target(host, "/")
    # Fast path, nothing to decode or resolve: 1.4-2 µs (host cached; 2.8 µs not) for
    # "https://grafana.example.com/d/abc?x=1"; ~4 µs with a %20, ~5 µs with dot
    # segments too (timeit, CPython 3.11; an uncached urlsplit alone takes ~4.4 µs).
    if not path.isascii():
        raise BadUrl("raw non-ASCII in the path")  # its encoding is anyone's guess
    if "%" in path or ";" in path or "\\" in path or "/." in path or "//" in path:
        path = _clean_path(path)
    return Target(host, path)


def host_key(text: str) -> str:
    """An admin's host[:port] (no scheme) as a `Target.host`; drops port 80 and 443."""
    if not isinstance(text, str):
        raise BadUrl("not text")
    text = text.strip()
    if not text:
        raise BadUrl("empty host")
    if " " in text or not text.isprintable():
        raise BadUrl("whitespace or a control character")
    if "/" in text:
        raise BadUrl("a host[:port] only, without scheme or path")
    if len(text) > _MAX_AUTHORITY_LENGTH:
        raise BadUrl("host too long")
    return _authority_key(text, _ANY_DEFAULT)


def prefix_key(text: str) -> str:
    """An admin's path prefix, normalised like `Target.path`, without a trailing "/".

    Unlike a request line, the admin's text may hold spaces and Unicode as they are:
    they stand for what a request's %xx decode to.
    """
    if not isinstance(text, str):
        raise BadUrl("not text")
    text = text.strip()
    if len(text) > MAX_URL_LENGTH:
        raise BadUrl("too long")
    if not text.replace(" ", "x").isprintable():
        raise BadUrl("a control character")
    if "?" in text or "#" in text or "://" in text:
        raise BadUrl("a path prefix only, without query, fragment or URL")
    path = _clean_path(text if text.startswith("/") else "/" + text)
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def prefix_matches(prefix: str, path: str) -> bool:
    """`path` is `prefix` or below it: "/wiki" covers "/wiki/x", not "/wikipedia"."""
    if not path.startswith(prefix):
        return False
    n = len(prefix)
    return len(path) == n or prefix.endswith("/") or path[n] == "/"


# Requests go to a handful of hosts: caching their keys saves ~1 µs a request. Refusals
# (exceptions) are not cached.
@functools.lru_cache(maxsize=1024)
def _authority_key(authority: str, defaults: tuple[str, ...]) -> str:
    if "@" in authority:
        raise BadUrl("userinfo in the authority")
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise BadUrl("unclosed IPv6 bracket")
        host = _ipv6(authority[1:close])
        rest = authority[close + 1 :]
        if rest and rest[0] != ":":
            raise BadUrl("junk after the IPv6 address")
        port = rest[1:] if rest else None
    else:
        name, colon, port = authority.partition(":")
        host = _hostname(name)
        if not colon:
            port = None
    if port is None:
        return host
    # ASCII digits, no leading zero: one spelling per port.
    if not (0 < len(port) <= 5 and port.isascii() and port.isdigit()) or port[0] == "0":
        raise BadUrl("bad port")
    if int(port) > 65535:
        raise BadUrl("bad port")
    return host if port in defaults else f"{host}:{port}"


def _hostname(host: str) -> str:
    if not host:
        raise BadUrl("empty host")
    if not host.isascii():
        if _ASCII_JUNK.search(host):
            raise BadUrl("bad host")
        try:
            # UTS46 maps case, full-width forms and odd dots the way browsers do;
            # a look-alike keeps its own punycode, so it never equals the real host.
            host = idna.encode(host, uts46=True).decode("ascii")
        except (UnicodeError, ValueError) as e:  # idna.IDNAError is a UnicodeError
            raise BadUrl("bad international host") from e
    host = host.lower().removesuffix(".")  # one dot; a second leaves an empty label
    if len(host) > MAX_HOST_LENGTH or not _HOSTNAME.fullmatch(host):
        raise BadUrl("bad host")
    # A host ending in a number is an IPv4 address to browsers ("127.1", "0x7f.1"):
    # only the canonical dotted quad has one reading.
    last = host[host.rfind(".") + 1 :]
    if last.isdigit() or (last.startswith("0x") and not last[2:].strip(_HEX)):
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError as e:
            raise BadUrl("not a canonical IPv4 address") from e
        if canonical != host:
            raise BadUrl("not a canonical IPv4 address")
    return host


def _ipv6(inner: str) -> str:
    if not inner or not inner.isascii() or "%" in inner:  # "%": a zone id
        raise BadUrl("bad IPv6 address")
    try:
        return f"[{ipaddress.IPv6Address(inner).compressed}]"
    except ValueError as e:
        raise BadUrl("bad IPv6 address") from e


def _clean_path(path: str) -> str:
    """Decode once, then collapse "//" and resolve dot segments (`path` starts "/")."""
    # "\": "/" to some servers; ";": path parameters ("..;/" climbs in Tomcat).
    if "\\" in path or ";" in path:
        raise BadUrl("backslash or path parameter")
    if "%" in path:
        if _BAD_PERCENT.search(path):
            raise BadUrl("bad percent-encoding")
        try:
            path = unquote(path, errors="strict")
        except UnicodeDecodeError as e:
            raise BadUrl("percent-encoding is not UTF-8") from e
        if _CONTROL.search(path) or "\\" in path or ";" in path:
            raise BadUrl("control character, backslash or ; encoded")
        # Still encoded once decoded: an app decoding again would read another path.
        if _PERCENT.search(path):
            raise BadUrl("double percent-encoding")
    if "//" not in path and "/." not in path:
        return path
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if not kept:
                raise BadUrl("climbs above the root")
            kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    # A last segment of "", "." or ".." leaves a directory: keep its trailing "/".
    trailing = segments[-1] in ("", ".", "..")
    return "/" + "/".join(kept) + ("/" if trailing and kept else "")

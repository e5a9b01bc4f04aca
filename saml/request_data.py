"""The one adapter from an HTTP request to python3-saml's `request_data`.

Built from the gateway's public URL, never from Host or X-Forwarded-* headers,
so that a proxy in front cannot make the library think it was reached elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def request_data(endpoint_url: str, *, post: dict | None = None, get: dict | None = None) -> dict:
    parts = urlsplit(endpoint_url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,  # host[:port], as the library wants it
        "script_name": parts.path,
        "get_data": dict(get or {}),
        "post_data": dict(post or {}),
    }

"""Carrying the session token: the idgate_session cookie, or a bearer header."""

from __future__ import annotations

from datetime import datetime

import re

from flask import Response, current_app, request

COOKIE_NAME = "idgate_session"
# Our tokens are 43 characters of base64url; anything much longer is no token of ours and is not
# even hashed.
MAX_TOKEN_LENGTH = 128
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOKEN_LENGTH}}}")
_COOKIE = re.compile(rf"(?:^|;)[ \t]*{COOKIE_NAME}=([^;]*)")


def token_from_environ(environ) -> str | None:
    """The session token a request carries: `Authorization: Bearer …`, else the first
    idgate_session cookie; None when absent, too long, or not made of a token's characters (the
    one reader, for the WSGI fast path and Flask alike)."""
    header = environ.get("HTTP_AUTHORIZATION")
    if header and header[:7].lower() == "bearer ":
        token = header[7:].strip()
    else:
        found = _COOKIE.search(environ.get("HTTP_COOKIE") or "")
        if found is None:
            return None
        token = found.group(1).strip()
    return token if _TOKEN.fullmatch(token) else None


def token_from_request() -> str | None:
    return token_from_environ(request.environ)


def set_session_cookie(response: Response, token: str, expires: datetime) -> Response:
    settings = current_app.extensions["idgate.settings"]
    response.set_cookie(
        COOKIE_NAME, token, expires=expires, path="/", domain=settings.cookie_domain,
        secure=settings.secure_cookies, httponly=True, samesite="Lax",
    )
    return response


def clear_session_cookie(response: Response) -> Response:
    settings = current_app.extensions["idgate.settings"]
    response.delete_cookie(COOKIE_NAME, path="/", domain=settings.cookie_domain,
                           secure=settings.secure_cookies, httponly=True, samesite="Lax")
    return response

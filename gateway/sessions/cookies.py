"""Carrying the session token: the idgate_session cookie, or a bearer header."""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, request

COOKIE_NAME = "idgate_session"


def token_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get(COOKIE_NAME) or None


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

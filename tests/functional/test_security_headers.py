"""What every response of ours says to the browser: no framing by another site, only our own
scripts, styles and images and nothing inline, no sniffing, no Referer beyond our origin, no
shared window with an opener, https kept once seen, and nothing of ours in a cache."""

from __future__ import annotations

import re

import pytest

from tests.factories import UserFactory, member

PATHS = ["/login", "/signup", "/sso", "/admin/users", "/no/such/page", "/api/v1/orgs/x/users", "/auth/verify",
         "/healthz", "/.well-known/jwks.json"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["img-src"] == "'self'"
    assert policy["base-uri"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "Strict-Transport-Security" not in response.headers  # http: a browser would ignore it


BROWSER_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
                   "Cross-Origin-Opener-Policy")


def test_a_forward_auth_refusal_carries_them_on_both_paths(client, auth, db):
    # (Traefik and Caddy show a refusal to the browser.)
    user = member(user=UserFactory())
    auth.login(user.email)
    first, cached = client.get("/auth/verify?org=elsewhere"), client.get("/auth/verify?org=elsewhere")

    assert first.status_code == cached.status_code == 403
    for name in BROWSER_HEADERS:
        assert first.headers[name] == cached.headers[name]


def test_a_forward_auth_200_is_for_the_proxy_alone_and_carries_none(client, auth, db):
    # The proxy copies the X-Auth-* it is told to onto the app's request and drops the rest; the
    # browser never sees this answer. Left off, they were a fifth of nginx's cost of each answer.
    user = member(user=UserFactory())
    auth.login(user.email)
    first, cached = client.get("/auth/verify"), client.get("/auth/verify")  # Flask, then the fast path

    assert first.status_code == cached.status_code == 200
    for response in (first, cached):
        assert not set(BROWSER_HEADERS) & set(response.headers.keys())
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.settings(BASE_URL="https://id.example.com")
def test_over_https_browsers_are_told_to_keep_to_it(client):
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("path", ["/login", "/signup", "/no/such/page", "/api/v1/orgs/x/users"])
def test_pages_and_answers_are_never_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_static_files_and_published_keys_keep_their_caching(client):
    css = client.get("/static/idgate.css")
    css.close()  # a file response: its file stays open until closed
    assert "no-store" not in css.headers.get("Cache-Control", "")
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"] == "public, max-age=300"


def test_no_template_has_an_inline_script_style_or_handler():
    from tests.helpers.processes import ROOT

    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), template


def _form_action(response) -> str:
    return response.headers["Content-Security-Policy"].rsplit("; ", 1)[1]


def test_forms_post_to_us_only(client):
    # Our base URL's host is where a `next` may go when no other host is allowed.
    assert _form_action(client.get("/login")) == "form-action 'self' http://127.0.0.1:5000 https://127.0.0.1:5000"


@pytest.mark.settings(ALLOWED_REDIRECT_HOSTS="app.example.com")
def test_and_lead_on_to_where_a_next_may_send_people(client):
    # A sign-in posts to us and is redirected to its `next` on an allowed host: the browser checks that too.
    assert _form_action(client.get("/login")) == "form-action 'self' http://app.example.com https://app.example.com"

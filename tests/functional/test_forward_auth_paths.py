"""The WSGI fast path and the Flask view give one answer: the same contexts and queries sent
through both, status and every header compared (the request id aside, which is new each time)."""

from __future__ import annotations

import itertools

import pytest
from werkzeug.test import Client

from gateway.actor import Actor
from gateway.sessions import services
from gateway.sessions.cache import cache_of
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

QUERIES = ["".join(parts) for parts in itertools.product(
    ["", "org=acme&", "org=other&", "org=&"],
    ["", "role=admin&", "role=user&"],
    ["", "redirect=1&", "redirect=0&", "redirect=x&"],
    ["", "rd=/back&", "rd=https://evil.example/&"],
)] + ["org=acme&org=other", "role=admin&role=admin", "Org=acme", "org=%ff", "next=/x", "rd=%00"]
PROXY_HEADERS = [
    {},
    {"X-Original-URL": "http://127.0.0.1:5000/app?x=1"},
    {"X-Original-URL": "https://evil.example/"},
    {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "127.0.0.1:5000", "X-Forwarded-Uri": "/app/é"},
]


@pytest.fixture
def tokens(app, db, clock):
    """Session tokens of every kind of caller, and none."""
    settings, now = app.extensions["idgate.settings"], clock.now()
    acme = OrganizationFactory(slug="acme", name="Acme")
    admin = MembershipFactory(org=acme, admin=True, user=UserFactory(name="Zoë Ångström-Łukasz"))
    plain = MembershipFactory(org=acme)
    temporary = MembershipFactory(org=acme, user=UserFactory(temporary=True))
    db.flush()

    def start(membership, *, owes=None, org=True):
        token, _ = services.start(db, membership.user_id, org_id=membership.org_id if org else None,
                                  amr="pwd", owes=owes, actor=Actor(), settings=settings, now=now)
        return token

    found = {"admin": start(admin), "user": start(plain), "restricted": start(temporary, owes="password_change"),
             "no organization": start(plain, org=False), "unknown": "x" * 43, "none": None}
    db.commit()
    return found


def _answer(wsgi, query: str, token: str | None, headers: dict):
    sent = dict(headers)
    if token:
        sent["Authorization"] = f"Bearer {token}"
    response = Client(wsgi).get(f"/auth/verify?{query}", headers=sent)
    got = sorted((name, value) for name, value in response.headers.items() if name != "X-Request-Id")
    assert response.headers["X-Request-Id"]
    return response.status, got, response.get_data()


@pytest.mark.parametrize("who", ["admin", "user", "restricted", "no organization", "unknown", "none"])
def test_the_fast_path_and_the_view_answer_alike(app, tokens, who):
    fast = app.wsgi_app
    view = fast.next  # Flask itself, behind the fast path
    cache = cache_of(app)
    token = tokens[who]
    for query, headers in itertools.product(QUERIES, PROXY_HEADERS):
        cache.forget()
        by_view = _answer(view, query, token, headers)  # resolved from the database (and remembered)
        by_fast_path = _answer(fast, query, token, headers)  # from memory when remembered
        assert by_fast_path == by_view, (who, query, headers, set(by_fast_path[1]) ^ set(by_view[1]))


def test_the_fast_path_does_answer_from_memory(app, tokens):
    cache = cache_of(app)
    cache.forget()
    Client(app.wsgi_app).get("/auth/verify", headers={"Authorization": f"Bearer {tokens['admin']}"})
    calls = []
    app.wsgi_app.next, flask = (lambda environ, start: calls.append(1) or flask(environ, start)), app.wsgi_app.next
    try:
        answer = Client(app.wsgi_app).get("/auth/verify", headers={"Authorization": f"Bearer {tokens['admin']}"})
    finally:
        app.wsgi_app.next = flask
    assert answer.status_code == 200 and calls == []

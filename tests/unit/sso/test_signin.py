"""Starting and finishing a sign-in: a request recorded under an opaque RelayState, bound to the
browser that started it, used once; what expired is forgotten."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.sso import signin
from gateway.sso.models import SamlLoginRequest, SeenAssertion
from gateway.sso.signin import SsoRejected


def _pending(db) -> list[SamlLoginRequest]:
    return list(db.scalars(select(SamlLoginRequest)))


def test_a_start_records_its_request_and_goes_to_the_idp(db, acme, idp, settings, clock):
    url = signin.start_login(db, "acme", next_url="/account?tab=orgs", settings=settings, now=clock.now())

    assert url.startswith(idp.sso_url) and "SAMLRequest=" in url
    [request] = _pending(db)
    assert request.next_url == "/account?tab=orgs"
    assert request.expires_at == clock.now() + signin.LOGIN_REQUEST_TTL


def test_an_unsafe_next_is_not_kept(db, acme, settings, clock):
    signin.start_login(db, "acme", next_url="//evil.example/x", settings=settings, now=clock.now())
    assert _pending(db)[0].next_url is None


def test_a_relay_state_names_the_browser_that_started_it():
    relay_state = signin._relay_state("browser-key")

    assert signin.started_in(relay_state, "browser-key")
    assert not signin.started_in(relay_state, "another-browser")
    assert not signin.started_in(relay_state, None)
    assert not signin.started_in(signin._relay_state(None), "browser-key")  # started unbound


@pytest.mark.parametrize("base_url, binds", [("https://id.example.com", True), ("http://127.0.0.1:5000", False)])
def test_sign_ins_bind_to_browsers_over_https_only(settings, base_url, binds):
    assert signin.binds_to_browser(replace(settings, base_url=base_url)) is binds


@pytest.mark.parametrize("fetch_site, confirm", [("cross-site", True), ("same-site", False), ("same-origin", False),
                                                 ("none", False), (None, False)])
def test_only_a_start_from_another_site_waits_for_a_click(fetch_site, confirm):
    assert signin.needs_confirmation(fetch_site) is confirm


def test_an_answer_that_is_no_saml_response_is_rejected_and_keeps_the_request_used(db, acme, settings, clock):
    signin.start_login(db, "acme", next_url=None, settings=settings, now=clock.now())
    relay_state = _pending(db)[0].relay_state

    with pytest.raises(SsoRejected):
        signin.finish_login(db, "acme", saml_response="bm90IHhtbA==", relay_state=relay_state, actor=Actor(),
                            settings=settings, now=clock.now())

    assert _pending(db) == []  # claimed on the way in: a second post of it finds nothing


def test_expired_requests_and_assertions_are_forgotten(db, acme, settings, clock):
    signin.start_login(db, "acme", next_url=None, settings=settings, now=clock.now())
    db.add(SeenAssertion(issuer="https://idp.example", assertion_id="_a1", expires_at=clock.now()))
    db.flush()

    assert signin.forget_expired(db, before=clock.now()) == (0, 0)
    assert signin.forget_expired(db, before=clock.now() + timedelta(hours=1)) == (1, 1)
    assert db.scalar(select(func.count()).select_from(SeenAssertion)) == 0

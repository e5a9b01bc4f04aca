"""A sign-in another site sets off waits for a click on our page (login CSRF through a hostile IdP)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.sso.models import SamlLoginRequest
from tests.conftest import csrf_token_in

CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def _pending(db) -> int:
    return db.scalar(select(func.count()).select_from(SamlLoginRequest))


def test_a_start_from_another_site_asks_first_and_goes_nowhere_yet(acme, client, db):
    page = client.get("/saml/acme/login", query_string={"next": "/account?tab=orgs"}, headers=CROSS_SITE)

    assert page.status_code == 200 and "Location" not in page.headers
    text = page.get_data(as_text=True)
    assert "Sign in to Acme?" in text and 'value="/account?tab=orgs"' in text
    assert _pending(db) == 0  # nothing recorded until the person confirms


def test_confirming_goes_on_to_the_idp_and_the_sign_in_lands_where_asked(acme, browser, client):
    page = client.get("/saml/acme/login", query_string={"next": "/account?tab=orgs"}, headers=CROSS_SITE)
    confirmed = client.post("/saml/acme/login", data={"csrf_token": csrf_token_in(page.get_data(as_text=True)),
                                                      "next": "/account?tab=orgs"})

    assert confirmed.status_code == 303
    request = browser.idp.read_authn_request(confirmed.headers["Location"])
    signed_in = browser.post(browser.answer(request), request["relay_state"])
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/account?tab=orgs"


def test_a_confirmation_posted_by_another_site_is_refused(acme, client, db):
    response = client.post("/saml/acme/login", data={"next": "/account"}, headers=CROSS_SITE)

    assert response.status_code == 400
    assert _pending(db) == 0


@pytest.mark.parametrize("fetch_site", ["same-origin", "same-site", "none", None])
def test_our_own_pages_sibling_hosts_and_bookmarks_go_to_the_idp_at_once(acme, client, fetch_site):
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    assert client.get("/saml/acme/login", headers=headers).status_code == 302


def test_the_question_is_asked_only_for_organizations_with_sso(client, db):
    assert client.get("/saml/nobody/login", headers=CROSS_SITE).status_code == 404


def test_the_confirmation_page_may_post_to_us_and_lead_to_the_idp_only(acme, client, idp):
    page = client.get("/saml/acme/login", headers=CROSS_SITE)

    policy = page.headers["Content-Security-Policy"]
    assert policy.endswith("form-action 'self' http://127.0.0.1:5000 https://127.0.0.1:5000 https://idp.example.org")
    assert "idp.example.org" not in client.get("/sso").headers["Content-Security-Policy"]

"""In a real browser: an app that speaks OpenID Connect sends a new member to idgate, who signs in
(the page names the app), changes the temporary password and lands back at the app with a code;
a client that asks for consent gets the member's "Allow". Every redirect after a form's post ends
at the app, so each page's form-action must name it: Chromium reports any violation."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.e2e.test_every_page import _accessibility_violations
from tests.helpers.downstream import downstream_app

NEW_PASSWORD = "copper meadow violin 5521 drift"


def _authorization_url(gateway, client_id: str, redirect_uri: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return f"{gateway}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid email",
        "state": "st8", "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
        "code_challenge_method": "S256"})


def _register(gateway, name: str, redirect_uri: str, *extra: str) -> str:
    out = gateway.cli("oidc", "client", "create", "oidcco", name, "--redirect-uri", redirect_uri, *extra)
    return re.search(r"client_id: (\S+)", out).group(1)


def test_a_new_member_signs_in_to_an_oidc_app_and_lands_back_with_a_code(gateway, person, screenshot):
    with downstream_app() as (app_port, _seen):
        callback = f"http://127.0.0.1:{app_port}/oauth/callback"
        out = gateway.cli("org", "create", "oidcco", "--name", "OIDC Co", "--admin-email", "ola@oidc.example.com",
                          "--admin-name", "Ola Admin")
        temporary = re.search(r"\(shown once\): (\S+)", out).group(1)
        client_id = _register(gateway, "Grafana", callback)

        page = person()
        page.goto(_authorization_url(gateway, client_id, callback))
        page.wait_for_url(re.compile(r".*/login\?next=.*"))
        assert "to continue to Grafana" in page.locator("main").inner_text()
        violations = _accessibility_violations(page)
        screenshot(page, "oidc-sign-in")
        page.get_by_label("Email").fill("ola@oidc.example.com")
        page.get_by_label("Password").fill(temporary)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r".*/password/change\?next=.*"))
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Save password").click()
        page.wait_for_url(re.compile(re.escape(callback) + r"\?code=.*"))
        answer = parse_qs(urlsplit(page.url).query)
        assert answer["state"] == ["st8"] and answer["iss"] == [gateway]

        consenting = _register(gateway, "Wiki", callback, "--public")
        # (consent is asked of clients registered with it; the console sets it; here prompt=consent asks)
        page.goto(_authorization_url(gateway, consenting, callback) + "&prompt=consent")
        page.wait_for_url(re.compile(r".*/oauth/authorize\?.*"))
        assert page.get_by_role("heading").inner_text() == "Allow Wiki?"
        violations += _accessibility_violations(page)
        screenshot(page, "oidc-consent")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(re.compile(re.escape(callback) + r"\?code=.*"))

        page.goto(f"{gateway}/oauth/logout")  # no id_token_hint: it asks first
        assert page.get_by_role("heading").inner_text() == "Sign out?"
        violations += _accessibility_violations(page)
        page.get_by_role("main").get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r".*/login$"))
        assert violations == []

"""Apache's mod_auth_openidc (Debian's package, a relying party no one here wrote) protecting a page
through our provider: a signed-in member reaches the page with their claims, logout works both ways
(the app's logout ends the gateway's session; the gateway's sign-out ends the app's by back-channel)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.functional.oidc.conftest import csrf_of
from tests.helpers import apache
from tests.helpers.processes import free_port

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not apache.available(), reason="apache2 and libapache2-mod-auth-openidc are not installed")]


@pytest.fixture(scope="module")
def site(provider, tmp_path_factory):
    """Apache on localhost (cookies are per host, not per port: it must not share idgate's on
    127.0.0.1) with a client registered for it."""
    port = free_port()
    rp = f"http://localhost:{port}"
    client_id, secret = provider.register("Wiki", rp + apache.REDIRECT_PATH, post_logout_redirect_uri=f"{rp}/bye",
                                          backchannel_logout_uri=f"{rp}{apache.REDIRECT_PATH}?logout=backchannel")
    httpd = apache.Apache(tmp_path_factory.mktemp("apache"), port=port, host="localhost",
                          discovery=f"{provider.base}/.well-known/openid-configuration", client_id=client_id,
                          client_secret=secret)
    try:
        httpd.start()
        yield {"base": provider.base, "rp": rp, "apache": httpd, "provider": provider}
    finally:
        httpd.stop()
        print(httpd.log())


def _signed_in_browser(site) -> requests.Session:
    return site["provider"].browser()


def _claims(page: requests.Response) -> dict:
    assert page.status_code == 200 and page.url.startswith(page.url.split("/protected")[0]), page.text[:300]
    return dict(line.split("=", 1) for line in page.text.splitlines() if "=" in line)


def test_a_signed_in_member_reaches_the_page_with_their_claims(site):
    browser = _signed_in_browser(site)
    page = browser.get(f"{site['rp']}/protected/claims")
    assert page.url == f"{site['rp']}/protected/claims", (page.url, site["apache"].log()[-2000:])
    claims = _claims(page)
    assert claims["email"] == "ops@acme.example" and claims["org"] == "acme" and claims["role"] == "admin"
    assert claims["iss"] == site["base"] and claims["sub"].isdigit()


def test_without_a_session_the_page_sends_the_browser_to_sign_in(site):
    page = requests.get(f"{site['rp']}/protected/claims")
    assert page.url.startswith(f"{site['base']}/login?next=%2Foauth%2Fauthorize"), page.url


def test_the_apps_logout_ends_the_gateways_session(site):
    browser = _signed_in_browser(site)
    assert _claims(browser.get(f"{site['rp']}/protected/claims"))
    gone = browser.get(f"{site['rp']}{apache.REDIRECT_PATH}", params={"logout": f"{site['rp']}/bye"})
    assert gone.url == f"{site['rp']}/bye" and gone.text == "signed out\n", (gone.url, gone.text[:300])
    assert browser.get(f"{site['base']}/auth/verify").status_code == 401
    again = browser.get(f"{site['rp']}/protected/claims")
    assert again.url.startswith(f"{site['base']}/login"), again.url


def test_signing_out_at_the_gateway_ends_the_apps_session_by_back_channel(site):
    browser = _signed_in_browser(site)
    assert _claims(browser.get(f"{site['rp']}/protected/claims"))
    signed_out = browser.post(f"{site['base']}/logout",
                              data={"csrf_token": csrf_of(browser.get(f"{site['base']}/account").text)})
    assert signed_out.status_code == 200
    # Apache's own session cookie is still in the browser: only the back-channel logout ends it,
    # posted once the gateway's answer has gone out.
    deadline = time.monotonic() + 10
    while (page := browser.get(f"{site['rp']}/protected/claims", allow_redirects=False)).status_code == 200 \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.status_code == 302 and page.headers["Location"].startswith(f"{site['base']}/oauth/authorize"), \
        (page.status_code, page.headers.get("Location"), site["apache"].log()[-2000:])

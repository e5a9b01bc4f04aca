"""Apache's mod_auth_openidc (Debian's package, a relying party no one here wrote) protecting a page
through our provider: a signed-in member reaches the page with their claims, logout works both ways
(the app's logout ends the gateway's session; the gateway's sign-out ends the app's by back-channel)."""

from __future__ import annotations

import os
import re
import time

import pytest
import requests

from tests.conftest import fresh_postgres_database
from tests.helpers import apache
from tests.helpers.processes import (
    clean_env,
    free_port,
    idgate,
    init_with_acme,
    start_idgate_serve,
    stop,
)

NEW_PASSWORD = "walnut harbor lantern 2046 quietly"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not apache.available(), reason="apache2 and libapache2-mod-auth-openidc are not installed")]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture(scope="module")
def served_url(database_url, tmp_path_factory):
    """A database of this module's own for its one gateway (the fixtures here are module-scoped)."""
    if database_url.startswith("postgresql"):
        with fresh_postgres_database(database_url, f"idgate_mod_auth_openidc_{os.getpid()}") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('oidc-db') / 'served.db'}"


@pytest.fixture(scope="module")
def site(served_url, tmp_path_factory):
    """idgate on 127.0.0.1, Apache on localhost (cookies are per host, not per port: the two
    must not share theirs), a client registered for Apache with the command line, and the
    organization's admin, who has chosen their password."""
    tmp = tmp_path_factory.mktemp("mod-auth-openidc")
    port, apache_port = free_port(), free_port()
    base, rp = f"http://127.0.0.1:{port}", f"http://localhost:{apache_port}"
    env = clean_env(IDGATE_DATABASE_URL=served_url, IDGATE_INSTANCE_PATH=str(tmp / "instance"),
                    IDGATE_BASE_URL=base, IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024",
                    IDGATE_ARGON2_PARALLELISM="1")
    temporary = init_with_acme(env=env, cwd=tmp)
    registered = idgate("oidc", "client", "create", "acme", "Wiki", "--redirect-uri", rp + apache.REDIRECT_PATH,
                        "--post-logout-redirect-uri", f"{rp}/bye",
                        "--backchannel-logout-uri", f"{rp}{apache.REDIRECT_PATH}?logout=backchannel",
                        env=env, cwd=tmp).stdout
    client_id = re.search(r"client_id: (\S+)", registered).group(1)
    secret = re.search(r"client_secret: (\S+)", registered).group(1)
    server = start_idgate_serve(env=env, cwd=tmp, port=port)
    httpd = apache.Apache(tmp / "apache", port=apache_port, host="localhost",
                          discovery=f"{base}/.well-known/openid-configuration", client_id=client_id,
                          client_secret=secret)
    try:
        httpd.start()
        with requests.Session() as browser:  # the temporary password, then the admin's own
            browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                                "email": "ops@acme.example", "password": temporary})
            changed = browser.post(f"{base}/password/change", data={
                "csrf_token": _csrf(browser.get(f"{base}/password/change").text), "new_password": NEW_PASSWORD})
            assert changed.status_code == 200
        yield {"base": base, "rp": rp, "apache": httpd}
    finally:
        httpd.stop()
        print(httpd.log())
        print(stop(server))


def _signed_in_browser(site) -> requests.Session:
    """A browser that signed in at the gateway."""
    browser, base = requests.Session(), site["base"]
    signed_in = browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                                    "email": "ops@acme.example", "password": NEW_PASSWORD})
    assert signed_in.status_code == 200 and browser.cookies.get("idgate_session", domain="127.0.0.1")
    return browser


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
                              data={"csrf_token": _csrf(browser.get(f"{site['base']}/account").text)})
    assert signed_out.status_code == 200
    # Apache's own session cookie is still in the browser: only the back-channel logout ends it,
    # posted once the gateway's answer has gone out.
    deadline = time.monotonic() + 10
    while (page := browser.get(f"{site['rp']}/protected/claims", allow_redirects=False)).status_code == 200 \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.status_code == 302 and page.headers["Location"].startswith(f"{site['base']}/oauth/authorize"), \
        (page.status_code, page.headers.get("Location"), site["apache"].log()[-2000:])

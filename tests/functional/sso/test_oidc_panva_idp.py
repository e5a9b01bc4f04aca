"""An organization signs in through its own OpenID Connect IdP, end to end over HTTP: panva's
oidc-provider (OpenID certified, written by no one here) as acme's IdP, a served gateway
(`idgate serve`, connected with `idgate oidc idp configure`), and browsers that follow redirects
as a person's would. First sign-in, the next one, refusals, routing, and sign-out both ways."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.helpers.panva_idp import PanvaIdP, panva_idp, skip_unless_available
from tests.helpers.processes import clean_env, free_port, idgate, init_with_acme, start_idgate_serve, stop

skip_unless_available()

CLIENT_ID, CLIENT_SECRET = "idgate-acme", "the acme client s3cret, kept by the IdP"
ADMIN_EMAIL, ADMIN_PASSWORD = "ops@acme.example", "walnut harbor lantern 2046 quietly"
# A password account on acme's declared domain, but of another organization only: acme's IdP cannot vouch for it.
OUTSIDER = "pat@acme.example"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def goes_on_to(answer: requests.Response) -> str:
    """Where a page between a post and another site (sso/continue.html) sends the browser on."""
    assert answer.status_code == 200, answer.text[:300]
    return urljoin(answer.url, html.unescape(re.search(r'<a href="([^"]+)" class="button primary">', answer.text)[1]))


class Gateway:
    """The served gateway: its base URL, and an admin's bearer token for its API."""

    def __init__(self, base: str, admin_token: str):
        self.base, self.admin_token = base, admin_token

    def verify(self, browser: requests.Session) -> requests.Response:
        """What forward-auth answers for this browser's session."""
        return browser.get(f"{self.base}/auth/verify", allow_redirects=False, timeout=10)

    def api(self, method: str, path: str) -> requests.Response:
        return requests.request(method, f"{self.base}/api/v1/orgs/acme{path}", timeout=10,
                                headers={"Authorization": f"Bearer {self.admin_token}"})

    def member(self, email: str) -> dict:
        """The member as the team list shows them."""
        users = self.api("GET", f"/users?q={email}").json()["users"]
        return next(user for user in users if user["email"] == email)


@pytest.fixture(scope="module")
def world(module_served_database_url, tmp_path_factory):
    """acme's IdP, and the gateway connected to it; (gateway, idp)."""
    tmp = tmp_path_factory.mktemp("panva-idp")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with panva_idp(tmp, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                   redirect_uris=[f"{base}/oidc/acme/callback"], post_logout_redirect_uris=[f"{base}/login"],
                   backchannel_logout_uri=f"{base}/oidc/acme/backchannel-logout") as idp:
        env = clean_env(IDGATE_DATABASE_URL=module_served_database_url, IDGATE_INSTANCE_PATH=str(tmp / "instance"), IDGATE_BASE_URL=base,
                        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1")
        temporary = init_with_acme(env=env, cwd=tmp)
        idgate("org", "create", "globex", "--name", "Globex", "--admin-email", OUTSIDER, "--admin-name", "Pat",
               env=env, cwd=tmp)
        (tmp / "secret").write_text(CLIENT_SECRET + "\n")
        configured = idgate("oidc", "idp", "configure", "acme", "--issuer", idp.issuer, "--client-id", CLIENT_ID,
                            "--client-secret-file", str(tmp / "secret"), "--email-domain", "acme.example",
                            "--scope", "openid", "--scope", "email", "--scope", "profile", "--scope", "groups",
                            "--groups-claim", "groups", "--admin-group", "acme-admins", env=env, cwd=tmp).stdout
        assert f"Register this redirect URI at the IdP: {base}/oidc/acme/callback" in configured
        server = start_idgate_serve(env=env, cwd=tmp, port=port)
        try:
            yield Gateway(base, _admin_token(base, temporary)), idp
        finally:
            print(stop(server))
            print(idp.log_path.read_text())


def _admin_token(base: str, temporary: str) -> str:
    """acme's admin signs in with the temporary password and chooses their own: their session token."""
    with requests.Session() as browser:
        browser.post(f"{base}/login", data={"csrf_token": csrf_of(browser.get(f"{base}/login").text),
                                            "email": ADMIN_EMAIL, "password": temporary})
        changed = browser.post(f"{base}/password/change", data={
            "csrf_token": csrf_of(browser.get(f"{base}/password/change").text), "new_password": ADMIN_PASSWORD})
        assert changed.status_code == 200, changed.text[:300]
        return browser.cookies["idgate_session"]


def signed_in(world, sub: str | None, browser: requests.Session | None = None) -> tuple[requests.Session,
                                                                                        requests.Response]:
    """A browser that starts at /oidc/acme/login, signs in at the IdP as `sub`, and is sent back: the
    browser and our callback's answer."""
    gateway, idp = world
    browser = browser or requests.Session()
    return browser, idp.sign_in(browser, f"{gateway.base}/oidc/acme/login?next=/account", sub)


def test_a_first_sign_in_creates_an_sso_only_member_with_what_the_idp_says(world):
    gateway, idp = world
    idp.person("ada-1", email="ada@acme.example", name="Ada Lovelace", groups=("engineering",))

    browser, answer = signed_in(world, "ada-1")

    assert answer.status_code in (302, 303) and answer.headers["Location"].endswith("/account")
    verified = gateway.verify(browser)
    assert verified.status_code == 200
    assert (verified.headers["X-Auth-Email"], verified.headers["X-Auth-Name"], verified.headers["X-Auth-Org"],
            verified.headers["X-Auth-Role"]) == ("ada@acme.example", "Ada Lovelace", "acme", "user")
    assert gateway.member("ada@acme.example")["sign_in_method"] == "sso"


def test_the_next_sign_in_reads_the_idps_claims_again(world):
    gateway, idp = world
    idp.person("bob-2", email="bob@acme.example", name="Bob")
    signed_in(world, "bob-2")
    idp.person("bob-2", email="bob@acme.example", name="Robert Smith", groups=("acme-admins",))

    browser, _ = signed_in(world, "bob-2")

    verified = gateway.verify(browser)
    assert (verified.headers["X-Auth-Name"], verified.headers["X-Auth-Role"]) == ("Robert Smith", "admin")


def test_a_deactivated_member_is_refused_at_the_callback(world):
    gateway, idp = world
    idp.person("cy-3", email="cy@acme.example")
    signed_in(world, "cy-3")
    assert gateway.api("POST", f"/users/{gateway.member('cy@acme.example')['id']}/deactivate").status_code == 200

    browser, answer = signed_in(world, "cy-3")

    assert answer.status_code == 403 and "deactivated" in answer.text
    assert "idgate_session" not in browser.cookies


def test_an_sso_only_member_cannot_use_the_password_form(world):
    gateway, idp = world
    idp.person("dee-4", email="dee@acme.example")
    signed_in(world, "dee-4")
    with requests.Session() as browser:
        answer = browser.post(f"{gateway.base}/login", allow_redirects=False, data={
            "csrf_token": csrf_of(browser.get(f"{gateway.base}/login").text), "email": "dee@acme.example",
            "password": "anything at all 2046 lantern"})
        assert answer.status_code != 303 and "idgate_session" not in browser.cookies


@pytest.mark.parametrize("claims", [
    {"email": OUTSIDER, "email_verified": True},  # another organization's member: no takeover
    {"email": "eve@acme.example", "email_verified": False},  # unproven: no account made of it
    {"email": "eve@elsewhere.example", "email_verified": True},  # a domain acme did not declare
], ids=["another-organizations-member", "unverified", "undeclared-domain"])
def test_an_email_the_idp_sends_makes_no_account_it_does_not_prove(world, claims):
    gateway, idp = world
    sub = f"eve-{len(claims['email'])}-{claims['email_verified']}"
    idp.person(sub, **claims)

    browser, answer = signed_in(world, sub)

    assert answer.status_code == 403, answer.text[:300]
    assert gateway.verify(browser).status_code == 401
    assert OUTSIDER not in gateway.api("GET", f"/users?q={OUTSIDER}").text


def test_continue_with_sso_sends_a_declared_domain_to_the_idp(world):
    gateway, idp = world
    with requests.Session() as browser:
        answer = browser.post(f"{gateway.base}/sso", allow_redirects=False, data={
            "csrf_token": csrf_of(browser.get(f"{gateway.base}/sso").text), "who": "anyone@acme.example"})
        assert urlsplit(goes_on_to(answer)).path == "/oidc/acme/login"


def _sign_out(gateway: Gateway, browser: requests.Session) -> requests.Response:
    page = browser.get(f"{gateway.base}/account").text
    return browser.post(f"{gateway.base}/logout", data={"csrf_token": csrf_of(page)}, allow_redirects=False)


def _confirm_at_the_idp(idp: PanvaIdP, browser: requests.Session, url: str) -> requests.Response:
    """The IdP's "sign out?" page, answered yes as a person would: the IdP's last answer, unfollowed."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:300]
    form = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    return browser.post(urljoin(url, form), data={**fields, "logout": "yes"}, allow_redirects=False, timeout=10)


def test_our_sign_out_ends_the_idps_session_too_and_comes_back_to_our_sign_in_page(world):
    gateway, idp = world
    idp.person("fay-5", email="fay@acme.example")
    browser, _ = signed_in(world, "fay-5")

    to_idp = goes_on_to(_sign_out(gateway, browser))

    assert to_idp.startswith(f"{idp.issuer}/") and gateway.verify(browser).status_code == 401
    query = parse_qs(urlsplit(to_idp).query)
    assert query["client_id"] == [CLIENT_ID] and query["post_logout_redirect_uri"] == [f"{gateway.base}/login"]
    assert query["id_token_hint"][0].count(".") == 2  # the IdP needs not ask who leaves
    back = _confirm_at_the_idp(idp, browser, to_idp)
    assert back.headers["Location"].startswith(f"{gateway.base}/login")
    # The IdP forgot the browser: a new sign-in asks who it is (PanvaIdP.sign_in checks it asked).
    assert signed_in(world, "fay-5", browser)[1].status_code in (302, 303)


def test_a_sign_out_at_the_idp_ends_our_session_by_back_channel(world):
    gateway, idp = world
    idp.person("gus-6", email="gus@acme.example")
    browser, _ = signed_in(world, "gus-6")
    elsewhere, _ = signed_in(world, "gus-6")  # the same person in another browser: another IdP session
    assert gateway.verify(browser).status_code == 200

    _confirm_at_the_idp(idp, browser, f"{idp.issuer}/session/end?client_id={CLIENT_ID}")

    assert gateway.verify(browser).status_code == 401  # the IdP posted its logout token before answering
    assert gateway.verify(elsewhere).status_code == 200  # only the IdP session that ended (its `sid`)
    audit = gateway.api("GET", "/audit?action=oidc_idp:logout").json()
    assert audit["events"][0]["details"]["sessions_ended"] == 1


def test_a_logout_token_not_signed_by_the_idp_ends_nothing(world):
    gateway, idp = world
    idp.person("hal-7", email="hal@acme.example")
    browser, _ = signed_in(world, "hal-7")
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJoYWwtNyJ9."

    answer = requests.post(f"{gateway.base}/oidc/acme/backchannel-logout", data={"logout_token": forged}, timeout=10)

    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert answer.headers["Cache-Control"] == "no-store"
    assert gateway.verify(browser).status_code == 200

"""What people do, in a real browser: an admin sets up a team; people sign in, get invited, get cut off."""

from __future__ import annotations

import re

import pytest

ADMIN_PASSWORD = "harbor lantern walnut 2046 quietly"
USER_PASSWORD = "saffron glacier tandem 3319 orbit"


def sign_in(page, base, email, password):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_sets_up_the_team_and_a_new_user_must_change_the_temporary_password(gateway, person,
                                                                                      screenshot):
    admin = person()
    admin.goto(f"{gateway}/signup")
    screenshot(admin, "signup")
    admin.get_by_label("Organization name").fill("Acme Rockets")
    admin.get_by_label("Short name (used in URLs)").fill("acme")
    admin.get_by_label("Your name").fill("Ada Admin")
    admin.get_by_label("Email").fill("ada@acme.example.com")
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Create organization").click()
    admin.wait_for_url(f"{gateway}/admin")  # a new organization's overview, with its first steps
    assert admin.get_by_role("heading", name="Getting started").is_visible()

    admin.goto(f"{gateway}/admin/users/new")
    admin.get_by_label("Name").fill("Uma User")
    admin.get_by_label("Email").fill("uma@acme.example.com")
    admin.get_by_role("button", name="Create account").click()
    temporary = admin.locator("#temporary-password").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9]{16}", temporary)
    assert admin.get_by_text("will not be shown again").is_visible()
    screenshot(admin, "temporary-password")

    uma = person(width=390)  # a phone
    sign_in(uma, gateway, "uma@acme.example.com", temporary)
    uma.wait_for_url(f"{gateway}/password/change")
    uma.goto(f"{gateway}/account")
    assert uma.url == f"{gateway}/password/change?next=/account"  # held until the password is changed
    uma.get_by_label("New password").fill("short")
    uma.get_by_role("button", name="Save password").click()
    assert uma.locator("#new_password-errors").get_by_text("Use at least 15 characters.").is_visible()
    screenshot(uma, "password-change")
    uma.get_by_label("New password").fill(USER_PASSWORD)
    uma.get_by_role("button", name="Save password").click()
    uma.wait_for_url(re.compile(r".*/account.*"))
    assert "Hello, Uma User" in uma.content()

    admin.goto(f"{gateway}/admin/users")
    assert admin.get_by_role("cell", name="uma@acme.example.com").is_visible()
    screenshot(admin, "team")

    # The admin deactivates Uma, who is signed in: her next click lands on the sign-in page.
    admin.get_by_role("link", name="Uma User").click()
    admin.get_by_role("link", name="Deactivate…").click()
    assert admin.get_by_text("Their 1 active session end now.").is_visible()
    screenshot(admin, "confirm-deactivate")
    admin.get_by_role("button", name="Deactivate").click()
    assert admin.get_by_text("Deactivated.").is_visible()
    uma.get_by_role("link", name="Change your password").click()
    uma.wait_for_url(re.compile(r".*/login.*"))

    admin.goto(f"{gateway}/admin/audit")
    assert admin.locator("td code", has_text="user:deactivate").first.is_visible()
    screenshot(admin, "audit")


def test_an_invited_person_redeems_the_magic_link(gateway, person, screenshot):
    admin = person()
    sign_in(admin, gateway, "ada@acme.example.com", ADMIN_PASSWORD)
    admin.goto(f"{gateway}/admin/invitations")
    admin.get_by_label("Email address").fill("ivy@elsewhere.example.com")
    admin.get_by_role("button", name="Create invitation").click()
    link = admin.locator("#magic-link").inner_text().strip()
    screenshot(admin, "invitation-link")

    ivy = person()
    ivy.goto(link)
    ivy.get_by_label("Your email address").fill("ivy@elsewhere.example.com")
    ivy.get_by_role("button", name="Continue").click()
    ivy.get_by_label("Your name").fill("Ivy Invitee")
    ivy.get_by_label("Password").fill(USER_PASSWORD)
    screenshot(ivy, "invitation-register")
    ivy.get_by_role("button", name="Create account and join").click()
    ivy.wait_for_url(re.compile(r".*/account.*"))
    assert "Acme Rockets" in ivy.content()

    again = person()
    again.goto(link)
    assert "not valid" in again.content()  # single use


def test_the_sign_in_page_offers_sso(gateway, person, screenshot):
    page = person()
    page.goto(f"{gateway}/login")
    screenshot(page, "login")
    page.get_by_role("link", name="Continue with SSO").click()
    page.get_by_label("Work email or organization").fill("someone@nowhere.example.com")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_text("No single sign-on is set up for that email domain.").is_visible()


@pytest.fixture(scope="module")
def globex_idp(gateway, tmp_path_factory):
    """Organization globex, signing in through a test IdP (for globex.example.com)."""
    import requests

    from tests.helpers.idp import TestIdP

    folder = tmp_path_factory.mktemp("globex")
    idp = TestIdP(folder / "idp")
    metadata = folder / "idp.xml"
    metadata.write_text(idp.metadata_xml())
    gateway.cli("org", "create", "globex", "--name", "Globex", "--admin-email", "hank@globex.example.com",
                "--admin-name", "Hank Scorpio")
    gateway.cli("saml", "configure", "globex", "--idp-metadata", str(metadata), "--email-domain",
                "globex.example.com")
    idp.trust_sp(requests.get(f"{gateway}/saml/globex/metadata", timeout=10).text)
    return idp


def _answer_for_the_idp(page, idp) -> list[str]:
    """The IdP is not on this network: answer for it, and keep the requests the browser made."""
    seen = []
    page.route(f"{idp.sso_url}**", lambda route: (seen.append(route.request.url),
                                                  route.fulfill(body="<h1>Test IdP</h1>",
                                                                content_type="text/html")))
    return seen


def test_the_sso_button_routes_by_email_domain_to_the_organizations_idp(gateway, person, globex_idp):
    page = person()
    seen = _answer_for_the_idp(page, globex_idp)
    page.goto(f"{gateway}/login")
    page.get_by_role("link", name="Continue with SSO").click()
    page.get_by_label("Work email or organization").fill("marge@globex.example.com")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=Test IdP")
    request = globex_idp.read_authn_request(seen[0])  # a signed AuthnRequest the IdP accepts
    assert request["acs_url"] == f"{gateway}/saml/globex/acs"


def test_a_sign_in_another_site_starts_is_confirmed_then_goes_on_to_the_idp(gateway, person, globex_idp):
    page = person()
    seen = _answer_for_the_idp(page, globex_idp)
    # A link on another site (Sec-Fetch-Site: cross-site); the confirmation's form may lead to the IdP.
    page.route("https://elsewhere.example.net/**", lambda route: route.fulfill(
        body=f'<a href="{gateway}/saml/globex/login">Sign in with Globex</a>', content_type="text/html"))
    page.goto("https://elsewhere.example.net/")
    page.get_by_role("link", name="Sign in with Globex").click()
    page.get_by_role("button", name="Continue to Globex").click()
    page.wait_for_selector("text=Test IdP")
    assert globex_idp.read_authn_request(seen[0])["acs_url"] == f"{gateway}/saml/globex/acs"

"""Every page of the console and of signing in, opened in a real browser: none breaks the Content
Security Policy (the `person` fixture fails on any violation Chromium reports) and none has an
accessibility violation axe-core finds (WCAG 2 A and AA)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest

from tests.e2e.test_journeys import ADMIN_PASSWORD, sign_in
from tests.e2e.test_passkeys import sign_in as sign_in_by_name
from tests.helpers.virtual_authenticator import add_virtual_authenticator

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci --prefix tests/e2e)")


@pytest.fixture(scope="module")
def team(gateway, tmp_path_factory):
    """Organization acme with its admin (a changed password), a member, an invitation and SSO."""
    from tests.helpers.idp import TestIdP

    out = gateway.cli("org", "create", "acme", "--name", "Acme Rockets", "--admin-email", "ada@acme.example.com",
                      "--admin-name", "Ada Admin")
    temporary = re.search(r"Temporary password \(shown once\): (\S+)", out).group(1)
    folder = tmp_path_factory.mktemp("idp")
    metadata = folder / "idp.xml"
    metadata.write_text(TestIdP(folder / "idp").metadata_xml())
    gateway.cli("saml", "configure", "acme", "--idp-metadata", str(metadata), "--email-domain", "acme.example.com")
    return temporary


def _accessibility_violations(page) -> list[str]:
    # Loaded through DevTools, as an extension would: our policy lets no page run another script.
    page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => (await axe.run(document, {runOnly: ["wcag2a", "wcag2aa"]}))
        .violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)""")
    return [f"{page.url} {violation}" for violation in found]


def _walk(page, base: str, paths) -> list[str]:
    violations = []
    for path in paths:
        page.goto(f"{base}{path}")
        violations += _accessibility_violations(page)
    return violations


def test_every_page_keeps_to_the_policy_and_is_accessible(gateway, team, person, screenshot):
    anonymous = person()
    violations = _walk(anonymous, gateway, ["/login", "/signup", "/sso", "/invite/no-such-code", "/no/such/page"])
    anonymous.goto(f"{gateway}/sso")
    anonymous.get_by_role("button", name="Continue").click()  # empty: the field's error
    violations += _accessibility_violations(anonymous)

    admin = person()
    sign_in(admin, gateway, "ada@acme.example.com", team)
    admin.wait_for_url(re.compile(r".*/password/change.*"))
    violations += _accessibility_violations(admin)
    admin.get_by_label("New password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Save password").click()
    admin.wait_for_url(re.compile(r".*/account.*"))

    admin.goto(f"{gateway}/admin/users/new")
    admin.get_by_label("Name").fill("Uma User")
    admin.get_by_label("Email").fill("uma@acme.example.com")
    admin.get_by_role("button", name="Create account").click()
    violations += _accessibility_violations(admin)  # the temporary password, shown once
    admin.goto(f"{gateway}/admin/invitations")
    admin.get_by_label("Email address").fill("ivy@elsewhere.example.com")
    admin.get_by_role("button", name="Create invitation").click()
    violations += _accessibility_violations(admin)  # the magic link, shown once

    admin.goto(f"{gateway}/admin/users")
    uma = admin.get_by_role("link", name="Uma User").get_attribute("href")
    admin.goto(f"{gateway}/admin/invitations")
    revoke = admin.locator("a[href*='/delete']").first.get_attribute("href")
    violations += _walk(admin, gateway, [
        "/account", "/password/change", "/admin/users", "/admin/users/new", uma, f"{uma}/deactivate",
        f"{uma}/delete", "/admin/invitations", revoke, "/admin/sso", "/admin/audit",
    ])

    # A second factor: the set-up page, the codes shown once, and the second step of the next sign-in.
    admin.goto(f"{gateway}/account/security")
    admin.get_by_role("button", name="Set up an authenticator app").click()
    screenshot(admin, "authenticator-app")
    violations += _accessibility_violations(admin)
    app = pyotp.TOTP(admin.locator("#totp-secret").inner_text().replace(" ", ""))
    admin.get_by_label("Code", exact=True).fill(app.now())
    admin.get_by_role("button", name="Turn on").click()
    assert admin.locator("#recovery-codes").is_visible()
    violations += _accessibility_violations(admin)
    admin.get_by_role("button", name="Sign out").click()
    sign_in(admin, gateway, "ada@acme.example.com", ADMIN_PASSWORD)
    admin.wait_for_url(re.compile(r".*/login/verify.*"))
    screenshot(admin, "second-step")
    violations += _accessibility_violations(admin)
    admin.get_by_label("Code", exact=True).fill(app.at(time.time(), counter_offset=1))  # the next step's: not used yet
    admin.get_by_role("button", name="Continue").click()
    admin.wait_for_url(re.compile(r".*/account.*"))
    violations += _walk(admin, gateway, ["/account/security"])

    violations += _passkey_pages(gateway, person)
    assert violations == []


def _passkey_pages(gateway, person) -> list[str]:
    """Passkeys, at localhost (the gateway's name for its loopback address, where its pages offer them):
    the security page with the form, the passkey added, the sign-in page and the second step with it."""
    out = gateway.cli("org", "create", "bolt", "--name", "Bolt Works", "--admin-email", "pat@bolt.example.com",
                      "--admin-name", "Pat Admin")
    temporary = re.search(r"Temporary password \(shown once\): (\S+)", out).group(1)
    by_name = gateway.replace("127.0.0.1", "localhost")
    page = person()
    add_virtual_authenticator(page)
    sign_in_by_name(page, by_name, "pat@bolt.example.com", temporary)
    page.get_by_label("New password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(re.compile(r".*/account.*"))
    violations = _walk(page, by_name, ["/account/security"])
    page.get_by_label("Passkey name").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_selector("#recovery-codes")
    violations += _accessibility_violations(page)  # the passkey added, its recovery codes shown once
    violations += _walk(page, by_name, ["/account/security"])  # the list of passkeys
    page.get_by_role("button", name="Sign out").click()
    violations += _walk(page, by_name, ["/login"])  # "Sign in with a passkey"
    sign_in_by_name(page, by_name, "pat@bolt.example.com", ADMIN_PASSWORD)
    page.wait_for_url(re.compile(r".*/login/verify.*"))
    violations += _accessibility_violations(page)  # the second step, with "Use a passkey"
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(re.compile(r".*/account$"))
    return violations

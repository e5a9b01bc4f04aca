"""Every page of the console and of signing in, opened in a real browser: none breaks the Content
Security Policy (the `person` fixture fails on any violation Chromium reports) and none has an
accessibility violation axe-core finds (WCAG 2 A and AA)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import NamedTuple

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
    violations = _walk(anonymous, gateway, ["/login", "/signup", "/sso", "/invite/no-such-code", "/no/such/page",
                                            "/password/forgot", "/password/reset/no-such-code"])
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
    uma_password = admin.locator("#temporary-password").inner_text()
    admin.goto(f"{gateway}/admin/invitations")
    admin.get_by_label("Email address").fill("ivy@elsewhere.example.com")
    admin.get_by_role("button", name="Create invitation").click()
    violations += _accessibility_violations(admin)  # the magic link, shown once

    admin.goto(f"{gateway}/admin/users")
    uma = admin.get_by_role("link", name="Uma User").get_attribute("href")
    admin.goto(f"{gateway}/admin/invitations")
    revoke = admin.locator("a[href*='/delete']").first.get_attribute("href")
    violations += _walk(admin, gateway, [
        "/account", "/password/change", "/admin", "/admin?dormant_days=1", "/admin/users", "/admin/users/new", uma, f"{uma}/deactivate",
        f"{uma}/delete", "/admin/invitations", revoke, "/admin/sso", "/admin/audit",
    ])
    console = _apps_groups_and_roles(admin, gateway, uma)
    oidc = _oidc_clients(admin, gateway)
    scim = _scim_tokens(admin, gateway)
    violations += console.violations + oidc.violations + scim.violations
    violations += _auditor_pages(gateway, person, admin, uma, uma_password,
                                 [*console.paths, *oidc.paths, *scim.paths])

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
    # The answer to the password is the second step's page itself (the URL stays /login).
    admin.get_by_role("heading", name="Confirm it is you").wait_for()
    screenshot(admin, "second-step")
    violations += _accessibility_violations(admin)
    admin.get_by_label("Code", exact=True).fill(app.at(time.time(), counter_offset=1))  # the next step's: not used yet
    admin.get_by_role("button", name="Continue").click()
    admin.wait_for_url(re.compile(r".*/account.*"))
    violations += _walk(admin, gateway, ["/account/security"])

    violations += _passkey_pages(gateway, person)
    assert violations == []


class Console(NamedTuple):
    violations: list[str]
    paths: list[str]  # the pages an admin and an auditor open


def _apps_groups_and_roles(admin, gateway, uma) -> Console:
    """A group with Uma in it, a custom role and an app for the group, each made through its form (a
    refused one first, to show its errors); then every page of them, and Uma's with her groups and apps."""
    admin.goto(f"{gateway}/admin/groups")
    admin.get_by_label("Name", exact=True).fill("Ops Team")
    admin.get_by_role("button", name="Create group").click()
    violations = _accessibility_violations(admin)  # the name's error
    admin.get_by_label("Name", exact=True).fill("ops")
    admin.get_by_label("IdP group that fills it").fill("Operations")
    admin.get_by_role("button", name="Create group").click()
    admin.wait_for_url(re.compile(r".*/admin/groups/\d+$"))
    group = admin.url.removeprefix(gateway)
    admin.get_by_label("Member", exact=True).select_option(label="Uma User (uma@acme.example.com)")
    admin.get_by_role("button", name="Add to the group").click()
    violations += _accessibility_violations(admin)  # a member, with a Remove button

    admin.goto(f"{gateway}/admin/roles")
    admin.get_by_label("Name", exact=True).fill("contractor")
    admin.get_by_label("Description", exact=True).fill("Outside help")
    admin.get_by_role("button", name="Create role").click()
    violations += _accessibility_violations(admin)  # a custom role, with its own form

    admin.goto(f"{gateway}/admin/apps/new")
    admin.get_by_label("Name", exact=True).fill("Wiki")
    admin.get_by_label("Routes").fill("not a host/wiki")
    admin.get_by_label("Only the roles and groups below").check()
    admin.get_by_label("ops", exact=True).check()
    admin.get_by_role("button", name="Register").click()
    violations += _accessibility_violations(admin)  # the route's error
    admin.get_by_label("Routes").fill("wiki.acme.example.com\nacme.example.com/wiki")
    admin.get_by_role("button", name="Register").click()
    admin.wait_for_url(re.compile(r".*/admin/apps/\d+$"))
    app = admin.url.removeprefix(gateway)
    paths = ["/admin/apps", "/admin/apps/new", app, f"{app}/delete", "/admin/groups", group, f"{group}/delete",
             "/admin/roles", "/admin/roles/contractor/delete", uma]
    return Console(violations + _walk(admin, gateway, paths), paths)


def _oidc_clients(admin, gateway) -> Console:
    """An OpenID Connect client registered through its form (a refused URI first, to show its error),
    its secret shown once, then its pages."""
    admin.goto(f"{gateway}/admin/oidc-clients")
    admin.get_by_label("Name", exact=True).fill("Grafana")
    admin.get_by_label("Redirect URIs", exact=True).fill("http://grafana.acme.example.com/login/generic_oauth")
    admin.get_by_role("button", name="Register client").click()
    violations = _accessibility_violations(admin)  # the URI's error
    admin.get_by_label("Redirect URIs", exact=True).fill("https://grafana.acme.example.com/login/generic_oauth")
    admin.get_by_label("Ask members for consent").check()
    admin.get_by_role("button", name="Register client").click()
    assert admin.locator("#client-secret").is_visible()
    violations += _accessibility_violations(admin)  # the client secret, shown once
    admin.get_by_role("link", name="Continue to Grafana").click()
    admin.wait_for_url(re.compile(r".*/admin/oidc-clients/\d+$"))
    client = admin.url.removeprefix(gateway)
    paths = ["/admin/oidc-clients", client, f"{client}/delete"]
    return Console(violations + _walk(admin, gateway, paths), paths)


def _scim_tokens(admin, gateway) -> Console:
    """A SCIM token made through its form, shown once, then the list with it."""
    admin.goto(f"{gateway}/admin/scim")
    violations = _accessibility_violations(admin)  # no tokens yet
    admin.get_by_label("Name", exact=True).fill("Entra ID")
    admin.get_by_role("button", name="Create token").click()
    assert admin.locator("#scim-token").is_visible()
    violations += _accessibility_violations(admin)  # the token, shown once
    paths = ["/admin/scim"]
    return Console(violations + _walk(admin, gateway, paths), paths)


def _auditor_pages(gateway, person, admin, uma, uma_password, paths) -> list[str]:
    """Uma made an auditor: the console's pages as she reads them, without their forms."""
    admin.goto(f"{gateway}{uma}")
    admin.get_by_label("Role", exact=True).select_option("auditor")
    admin.get_by_role("button", name="Save role").click()
    auditor = person()
    sign_in(auditor, gateway, "uma@acme.example.com", uma_password)
    auditor.wait_for_url(re.compile(r".*/password/change.*"))
    auditor.get_by_label("New password").fill(ADMIN_PASSWORD)
    auditor.get_by_role("button", name="Save password").click()
    auditor.wait_for_url(re.compile(r".*/account.*"))
    return _walk(auditor, gateway, ["/admin", "/admin/users", "/admin/invitations", "/admin/sso", "/admin/audit", *paths])


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
    # The answer to the password is the second step's page itself (the URL stays /login).
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    violations += _accessibility_violations(page)  # the second step, with "Use a passkey"
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(re.compile(r".*/account$"))
    return violations

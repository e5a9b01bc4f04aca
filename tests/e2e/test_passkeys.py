"""Passkeys in a real Chromium, with DevTools' virtual authenticator: one is registered on the
security page, used as the second factor after the password, used alone with no email typed, and
removed. The gateway runs at its default kind of address, http://127.0.0.1:<port>; passkeys belong
to `localhost` there, so the person opens it at http://localhost:<port>."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.test_journeys import ADMIN_PASSWORD
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop
from tests.helpers.virtual_authenticator import add_virtual_authenticator


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A gateway of its own at http://127.0.0.1:<port> (IDGATE_BASE_URL), with organization acme and
    its admin's temporary password: (gateway, temporary password)."""
    workdir = tmp_path_factory.mktemp("e2e-passkeys")
    port = free_port()
    env = clean_env(
        IDGATE_DATABASE_URL=f"sqlite:///{workdir / 'e2e.db'}", IDGATE_INSTANCE_PATH=str(workdir / "instance"),
        IDGATE_CERTS_DIR=str(workdir / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    idgate("init", env=env, cwd=workdir)
    server = start_idgate_serve(env=env, cwd=workdir, port=port, workers=1)
    gateway = Gateway(f"http://127.0.0.1:{port}", env, workdir)
    out = gateway.cli("org", "create", "acme", "--name", "Acme Rockets", "--admin-email", "ada@acme.example.com",
                      "--admin-name", "Ada Admin")
    yield gateway, re.search(r"Temporary password \(shown once\): (\S+)", out).group(1)
    stop(server)


def sign_in(page, base, email, password):
    """As tests.e2e.test_journeys.sign_in, where the page also offers "Sign in with a passkey"."""
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def amr(page, base: str) -> str | None:
    return page.context.request.get(f"{base}/auth/verify").headers.get("x-auth-amr")


def test_a_passkey_is_added_used_after_the_password_used_alone_and_removed(served, person):
    gateway, temporary = served
    by_name = gateway.replace("127.0.0.1", "localhost")
    page = person()
    authenticator = add_virtual_authenticator(page)

    page.goto(f"{gateway}/login")  # at the IP address: no passkeys offered, the way to them shown
    assert page.get_by_role("button", name="Sign in with a passkey").count() == 0
    assert page.get_by_role("link", name=by_name).get_attribute("href") == f"{by_name}/login"

    sign_in(page, by_name, "ada@acme.example.com", temporary)
    page.get_by_label("New password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(re.compile(r".*/account.*"))

    # Added: named, and as the account's first factor it brings recovery codes.
    page.goto(f"{by_name}/account/security")
    page.get_by_label("Passkey name").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_selector("#recovery-codes")
    assert page.get_by_role("heading", name="The passkey is added").is_visible()
    assert len(page.locator("#recovery-codes").inner_text().split()) == 10
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"
    page.get_by_role("link", name="Continue").click()
    assert page.get_by_role("cell", name="Laptop", exact=True).is_visible()
    assert page.get_by_role("cell", name="On its own, or after your password").is_visible()

    # After the password, the passkey is the second step.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, by_name, "ada@acme.example.com", ADMIN_PASSWORD)
    # The answer to the password is the second step's page itself (the URL stays /login).
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(re.compile(r".*/account$"))
    assert amr(page, by_name) == "pwd hwk mfa"

    # Alone, with no email typed: the authenticator verified its user, so it is both factors.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{by_name}/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(re.compile(r".*/account$"))
    assert amr(page, by_name) == "hwk user mfa"

    # Last used is shown; removed, it is gone (and, the last factor, with it the recovery codes).
    page.goto(f"{by_name}/account/security")
    assert page.get_by_role("cell", name="Never").count() == 0
    page.get_by_role("button", name="Remove the passkey Laptop").click()
    page.wait_for_url(re.compile(r".*/account/security$"))
    assert page.get_by_role("cell", name="Laptop", exact=True).count() == 0
    assert page.get_by_role("heading", name="Recovery codes").count() == 0
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, by_name, "ada@acme.example.com", ADMIN_PASSWORD)
    page.wait_for_url(re.compile(r".*/account$"))  # no second step any more

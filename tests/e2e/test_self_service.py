"""People help themselves, in a real browser against a served gateway that mails through a real SMTP
server (aiosmtpd): forgot password from the sign-in page to the new password, and a session signed
out from another browser is sent to sign in at its next request. The new pages pass axe-core."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.test_every_page import AXE, _accessibility_violations
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop
from tests.helpers.smtp import SmtpServer

pytestmark = pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci --prefix tests/e2e)")

NEW_PASSWORD = "copper meadow violin 6621 thistle"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, smtp):
    """A served gateway on SQLite that sends its mail to `smtp`, with organization acme and its admin."""
    workdir = tmp_path_factory.mktemp("e2e-self-service")
    port = free_port()
    env = clean_env(
        IDGATE_DATABASE_URL=f"sqlite:///{workdir / 'e2e.db'}", IDGATE_INSTANCE_PATH=str(workdir / "instance"),
        IDGATE_CERTS_DIR=str(workdir / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
        IDGATE_SMTP_URL=smtp.url, IDGATE_MAIL_FROM="idgate@example.com",
    )
    idgate("init", env=env, cwd=workdir)
    idgate("org", "create", "acme", "--name", "Acme Rockets", "--admin-email", "ada@acme.example.com",
           "--admin-name", "Ada Admin", env=env, cwd=workdir)
    server = start_idgate_serve(env=env, cwd=workdir, port=port, workers=1)
    yield Gateway(f"http://127.0.0.1:{port}", env, workdir)
    stop(server)


def sign_in(page, base, password):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("ada@acme.example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/account.*"))


def test_forgot_password_from_the_sign_in_page_to_the_new_password(gateway, person, smtp, screenshot):
    ada = person()
    ada.goto(f"{gateway}/login")
    ada.get_by_role("link", name="Forgot your password?").click()
    ada.wait_for_url(f"{gateway}/password/forgot")
    violations = _accessibility_violations(ada)
    ada.get_by_label("Email").fill("ada@acme.example.com")
    ada.get_by_role("button", name="Send me a link").click()
    assert ada.get_by_text("If an account uses that address, a mail is on its way").is_visible()
    violations += _accessibility_violations(ada)
    screenshot(ada, "forgot-password")

    [mail] = smtp.wait_for(1, timeout=10)
    link = re.search(r"http://\S+/password/reset/[A-Za-z0-9_-]+", mail.get_payload(decode=True).decode()).group(0)
    ada.goto(link)
    assert ada.url == f"{gateway}/password/reset"  # the code left the address bar and the history
    violations += _accessibility_violations(ada)
    ada.get_by_label("New password").fill("short")
    ada.get_by_role("button", name="Save password").click()
    assert ada.locator("#new_password-errors").get_by_text("Use at least 15 characters.").is_visible()
    violations += _accessibility_violations(ada)
    ada.get_by_label("New password").fill(NEW_PASSWORD)
    ada.get_by_role("button", name="Save password").click()
    ada.wait_for_url(f"{gateway}/login?reset=1")
    assert ada.get_by_text("Your password is changed").is_visible()
    violations += _accessibility_violations(ada)

    sign_in(ada, gateway, NEW_PASSWORD)
    assert "Hello, Ada Admin" in ada.content()
    ada.get_by_role("button", name="Sign out", exact=True).click()
    ada.wait_for_url(re.compile(r".*/login.*"))
    assert smtp.wait_for(2, timeout=10)[1]["Subject"] == "Your idgate password was changed"
    again = person()
    again.goto(link)
    assert "not valid" in again.content()  # used once
    assert violations == []


def test_a_session_signed_out_from_another_browser_is_sent_to_sign_in(gateway, person, screenshot):
    laptop, phone = person(), person(width=390)
    sign_in(laptop, gateway, NEW_PASSWORD)
    sign_in(phone, gateway, NEW_PASSWORD)

    laptop.goto(f"{gateway}/account/security")
    assert laptop.get_by_text("(this device)").is_visible()
    violations = _accessibility_violations(laptop)
    screenshot(laptop, "your-sessions")
    others = laptop.get_by_role("button", name=re.compile(r"^Sign out .*, started"))
    assert others.count() == 1  # the phone's; this one is signed out with "Sign out"
    others.click()
    assert laptop.get_by_text("1 session was signed out.").is_visible()
    violations += _accessibility_violations(laptop)

    phone.reload()
    phone.wait_for_url(re.compile(r".*/login.*"))
    laptop.goto(f"{gateway}/account")
    assert "Hello, Ada Admin" in laptop.content()  # this one lives on
    assert violations == []

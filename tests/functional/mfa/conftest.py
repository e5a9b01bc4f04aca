"""Second-factor fixtures: a member signed in with a password, an authenticator app they set up."""

from __future__ import annotations

import re
import subprocess

import pyotp
import pytest

from tests.conftest import csrf_token, csrf_token_in
from tests.factories import MembershipFactory

CODES = re.compile(r'<code id="recovery-codes">(.*?)</code>', re.S)


class App:
    """The person's authenticator app: it knows the key and the time."""

    def __init__(self, secret: str, clock):
        self.secret, self.clock = secret, clock

    def code(self, steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(self.clock.now(), counter_offset=steps)


def enrol(client, clock) -> tuple[App, list[str]]:
    """Set up an authenticator app on /account/security as a person does; returns it and the recovery codes."""
    page = client.get("/account/security").get_data(as_text=True)
    client.post("/account/security/totp", data={"csrf_token": csrf_token_in(page)})
    page = client.get("/account/security").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    app = App(secret, clock)
    done = client.post("/account/security/totp/confirm", data={"csrf_token": csrf_token_in(page), "code": app.code()})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = CODES.search(done.get_data(as_text=True))
    return app, codes.group(1).split() if codes else []


def second_step(client, code: str, next_url: str | None = None):
    data = {"csrf_token": csrf_token(client, "/login/verify"), "code": code}
    return client.post("/login/verify" + (f"?next={next_url}" if next_url else ""), data=data)


def oathtool_code(secret: str, clock) -> str:
    """The code Debian's oathtool (an implementation of RFC 6238 no one here wrote) makes at the clock's time."""
    return subprocess.run(["oathtool", "--totp", "-b", "--now", clock.now().strftime("%Y-%m-%d %H:%M:%S UTC"),
                           secret], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def member(db):
    membership = MembershipFactory()
    db.flush()
    return membership


@pytest.fixture
def with_app(member, auth, client, clock):
    """A member who set up an authenticator app (and signed out): (membership, app, recovery codes)."""
    assert auth.login(member.user.email).status_code == 303
    app, codes = enrol(client, clock)
    auth.logout()
    clock.advance(seconds=30)  # the next code is a new one
    return member, app, codes

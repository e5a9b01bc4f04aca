"""A person SCIM creates in an organization without SSO: the mailed invitation sets their first password."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.accounts.models import User
from gateway.mail.models import OutboxMessage
from tests.conftest import csrf_token

NEW_PASSWORD = "orchid canyon velvet 4471 drizzle"


def _step(browser, link, **data):
    return browser.post(link, data={"csrf_token": csrf_token(browser, link), **data})


def test_the_invitation_sets_the_password_and_signs_in(scim, app, db):
    scim.new_user("newbie@example.com", displayName="New Bie")
    mail = db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "newbie@example.com"))
    link = re.search(r"http://127.0.0.1:5000(/invite/\S+)", mail.body).group(1)
    browser = app.test_client()
    assert "Create your account" in _step(browser, link, step="email", email="newbie@example.com").get_data(
        as_text=True)
    done = _step(browser, link, step="register", email="newbie@example.com", name="New Bie", password=NEW_PASSWORD)
    assert done.status_code == 303, done.get_data(as_text=True)
    assert browser.get("/auth/verify").headers["X-Auth-Org"] == scim.org.slug
    db.expire_all()
    user = db.scalar(select(User).where(User.email == "newbie@example.com"))
    assert user.password_hash.startswith("$argon2id$") and user.email_verified_at is not None
    assert browser.get(link).status_code == 404  # single use


def test_a_person_created_inactive_is_invited_when_activated(scim, db):
    body = scim.new_user("later@example.com", active=False)
    assert db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "later@example.com")) is None
    assert scim.ops(f"/Users/{body['id']}", {"op": "replace", "path": "active", "value": True}).status_code == 200
    assert "/invite/" in db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "later@example.com")).body

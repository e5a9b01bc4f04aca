"""Recovery codes: ten, shown once with the first factor, each good once, mailed about when used."""

from __future__ import annotations

from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.mail.models import OutboxMessage
from gateway.mfa.models import RecoveryCode
from tests.conftest import csrf_token_in
from tests.functional.mfa.conftest import CODES, second_step


def test_a_recovery_code_stands_in_for_the_app_once(with_app, auth, client, db):
    member, _, codes = with_app
    auth.login(member.user.email)

    assert second_step(client, codes[0]).status_code == 303
    assert client.get("/auth/verify").headers["X-Auth-Amr"] == "pwd otp mfa"
    auth.logout()
    auth.login(member.user.email)
    assert second_step(client, codes[0]).status_code == 401
    assert second_step(client, codes[1].upper()).status_code == 303  # as typed from paper


def test_using_one_is_audited_and_mailed_to_the_person(with_app, auth, client, db):
    member, _, codes = with_app
    auth.login(member.user.email)
    second_step(client, codes[3])

    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "mfa:recovery_code_used"))
    assert event.target_id == member.user_id and event.details["codes_left"] == 9
    mail = db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == member.user.email))
    assert "recovery codes was just used" in mail.body and codes[3] not in mail.body


def test_codes_are_stored_as_hashes_only(with_app, db):
    _, _, codes = with_app
    stored = list(db.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert all(len(value) == 64 for value in stored)


def test_new_codes_end_the_old_ones(with_app, auth, client, db):
    member, app, old = with_app
    auth.login(member.user.email)
    second_step(client, app.code())
    page = client.get("/account/security").get_data(as_text=True)

    made = client.post("/account/security/recovery-codes", data={"csrf_token": csrf_token_in(page)})

    new = CODES.search(made.get_data(as_text=True)).group(1).split()
    assert len(new) == 10 and not set(new) & set(old)
    auth.logout()
    auth.login(member.user.email)
    assert second_step(client, old[5]).status_code == 401
    assert second_step(client, new[5]).status_code == 303

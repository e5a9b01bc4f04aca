"""Sign-in roll-ups: counted where the audit log records an outcome, and equal to a recount of the log."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway.accounts import services as accounts
from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.models import AuditEvent
from gateway.audit.service import record
from gateway.errors import InvalidCredentials
from gateway.overview import rollups
from gateway.overview.models import ActiveDay, PeopleDay, SigninDay
from tests.conftest import STRONG_PASSWORD
from tests.factories import OrganizationFactory, member

TOKYO = timezone(timedelta(hours=9))
NEW_YORK = timezone(timedelta(hours=-5))


@pytest.fixture
def actor() -> Actor:
    return Actor(ip="198.51.100.4", user_agent="pytest")


def recount(db) -> tuple[Counter, set]:
    """The figures as the audit log tells them, read row by row."""
    tally, active = Counter(), set()
    for event in db.scalars(select(AuditEvent)):
        found = rollups.classify(event.action, event.details or {})
        if found is None or event.org_id is None:
            continue
        day = rollups.day_of(event.occurred_at)
        tally[(event.org_id, day, *found)] += 1
        if found[1] == "success" and event.target_id is not None:
            active.add((event.org_id, day, event.target_id))
    return tally, active


def rolled_up(db) -> tuple[Counter, set]:
    tally = Counter({(r.org_id, r.day, r.method, r.outcome): r.count for r in db.scalars(select(SigninDay))})
    active = {(r.org_id, r.day, r.user_id) for r in db.scalars(select(ActiveDay))}
    return tally, active


class TestClassify:
    def test_reads_the_ways_in(self):
        assert rollups.classify("login:success", {"method": "password"}) == ("password", "success")
        assert rollups.classify("login:success", {"method": "invitation"}) == ("password", "success")
        assert rollups.classify("login:success", {"method": "passkey"}) == ("passkey", "success")
        assert rollups.classify("login:success", {"method": "saml"}) == ("sso", "success")
        assert rollups.classify("login:success", {"method": "oidc"}) == ("sso", "success")
        assert rollups.classify("login:failure", {"reason": "wrong_password"}) == ("password", "failed")
        assert rollups.classify("login:failure", {"reason": "passkey_refused"}) == ("passkey", "failed")
        assert rollups.classify("login:throttled", {}) == ("password", "throttled")
        assert rollups.classify("saml:login_denied", {"reason": "x"}) == ("sso", "failed")
        assert rollups.classify("oidc_idp:login_denied", {}) == ("sso", "failed")

    def test_ignores_everything_else(self):
        assert rollups.classify("user:deactivate", {}) is None
        assert rollups.classify("mfa:success", {}) is None

    def test_days_are_utc_days(self):
        assert rollups.day_of(datetime(2026, 3, 2, 8, 30, tzinfo=TOKYO)) == date(2026, 3, 1)
        assert rollups.day_of(datetime(2026, 3, 1, 20, 0, tzinfo=NEW_YORK)) == date(2026, 3, 2)


def test_a_generated_month_of_sign_ins_matches_a_recount_of_the_audit_log(app, db, actor):
    settings, passwords = app.extensions["idgate.settings"], app.extensions["idgate.passwords"]
    acme, globex = OrganizationFactory(), OrganizationFactory()
    people = [member(org=acme) for _ in range(4)] + [member(org=globex) for _ in range(3)]
    db.flush()
    rng = random.Random(23)
    start = datetime(2026, 2, 1, tzinfo=timezone.utc)
    for day in range(31):
        midnight = start + timedelta(days=day)
        # Either side of midnight UTC, and the same moments as clocks in Tokyo and New York read them.
        moments = [midnight - timedelta(seconds=1), midnight, midnight + timedelta(hours=rng.randrange(1, 23)),
                   (midnight + timedelta(minutes=30)).astimezone(TOKYO),
                   (midnight - timedelta(minutes=30)).astimezone(NEW_YORK)]
        for now in moments:
            person = rng.choice(people)
            roll = rng.random()
            if roll < 0.5:
                accounts.sign_in_with_password(db, email=person.email, password=STRONG_PASSWORD, passwords=passwords,
                                               actor=actor, settings=settings, now=now)
            elif roll < 0.7:
                with pytest.raises(InvalidCredentials):
                    accounts.sign_in_with_password(db, email=person.email, password="not it at all, no",
                                                   passwords=passwords, actor=actor, settings=settings, now=now)
            elif roll < 0.8:
                org_id = acme.id if person in people[:4] else globex.id
                record(db, actor.as_user(person.id, person.email, org_id), AuditAction.LOGIN_SUCCESS, now=now,
                       target_id=person.id, target_email=person.email, method=rng.choice(["saml", "oidc", "passkey"]))
            elif roll < 0.9:
                record(db, actor, AuditAction.LOGIN_THROTTLED, now=now, org_id=person.last_org_id,
                       target_email=person.email)
            else:
                record(db, actor, AuditAction.SAML_LOGIN_DENIED, now=now, org_id=acme.id, reason="unknown_domain")
    # Nobody's sign-in (an unknown address) counts for no organization.
    with pytest.raises(InvalidCredentials):
        accounts.sign_in_with_password(db, email="nobody@example.com", password="whatever it is, no",
                                       passwords=passwords, actor=actor, settings=settings, now=start)
    db.flush()

    expected_tally, expected_active = recount(db)
    tally, active = rolled_up(db)
    assert tally == expected_tally
    assert active == expected_active
    people_a_day = Counter((org_id, day) for org_id, day, _ in expected_active)
    assert {(r.org_id, r.day): r.count for r in db.scalars(select(PeopleDay))} == people_a_day
    assert sum(tally.values()) == 31 * 5
    # The month spans the boundaries: the first second before February counts for January 31.
    assert any(key[1] == date(2026, 1, 31) for key in tally)
    assert {key[2] for key in tally} == {"password", "passkey", "sso"}
    assert {key[3] for key in tally} == {"success", "failed", "throttled"}


def test_two_sign_ins_of_one_person_on_one_day_are_one_active_person(app, db, actor):
    settings, passwords = app.extensions["idgate.settings"], app.extensions["idgate.passwords"]
    person = member()
    db.flush()
    now = datetime(2026, 2, 3, 9, tzinfo=timezone.utc)
    for later in (0, 3):
        accounts.sign_in_with_password(db, email=person.email, password=STRONG_PASSWORD, passwords=passwords,
                                       actor=actor, settings=settings, now=now + timedelta(hours=later))
    db.flush()
    org_id = person.last_org_id
    row = db.scalar(select(SigninDay).where(SigninDay.org_id == org_id))
    assert (row.day, row.method, row.outcome, row.count) == (date(2026, 2, 3), "password", "success", 2)
    assert db.scalars(select(ActiveDay.user_id).where(ActiveDay.org_id == org_id)).all() == [person.id]
    assert db.scalars(select(PeopleDay.count).where(PeopleDay.org_id == org_id)).all() == [1]

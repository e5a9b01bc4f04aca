"""Where a person is signed in: the live sessions and how each was signed in; ending one or the others."""

from __future__ import annotations

import pytest

from gateway.actor import Actor
from gateway.mfa.policy import HWK, MFA, OTP, PWD, USER
from gateway.sessions import listing, services as sessions
from gateway.sessions.listing import CurrentSession, UnknownSession
from tests.factories import MembershipFactory


@pytest.fixture
def start(db, app, clock):
    settings = app.extensions["idgate.settings"]

    def start(membership, amr=PWD, **attributes):
        _, started = sessions.start(db, membership.user_id, org_id=membership.org_id, amr=amr,
                                    actor=Actor(ip="192.0.2.1", user_agent="curl/8.5.0"), settings=settings,
                                    now=clock.now(), **attributes)
        return started.id
    return start


@pytest.mark.parametrize(("amr", "attributes", "method", "second_factor"), [
    (PWD, {}, "password", False),
    (f"{PWD} {OTP} {MFA}", {}, "password", True),
    (f"{HWK} {USER} {MFA}", {}, "passkey", True),
    ("", {"sso_org_id": 1}, "sso", False),
])
def test_each_session_says_how_it_was_signed_in(db, clock, start, amr, attributes, method, second_factor):
    membership = MembershipFactory()
    start(membership, amr, **attributes)
    [shown] = listing.of_user(db, membership.user_id, current_id=None, now=clock.now())
    assert (shown.method, shown.second_factor) == (method, second_factor)
    assert shown.device == "curl 8" and shown.ip == "192.0.2.1" and shown.org_slug == membership.org.slug


def test_ended_and_expired_sessions_are_not_listed(db, clock, start):
    membership = MembershipFactory()
    ended, live = start(membership), start(membership)
    sessions.revoke(db, ended, now=clock.now())
    assert [s.id for s in listing.of_user(db, membership.user_id, current_id=live, now=clock.now())] == [live]
    clock.advance(hours=13)
    assert listing.of_user(db, membership.user_id, current_id=live, now=clock.now()) == []


def test_end_own_refuses_the_current_and_others_sessions(db, clock, start):
    mine, theirs = MembershipFactory(), MembershipFactory()
    current, other, strangers = start(mine), start(mine), start(theirs)
    actor = Actor(mine.user_id, mine.user.email)
    with pytest.raises(CurrentSession):
        listing.end_own(db, mine.user_id, current, current_id=current, actor=actor, now=clock.now())
    with pytest.raises(UnknownSession):
        listing.end_own(db, mine.user_id, strangers, current_id=current, actor=actor, now=clock.now())
    listing.end_own(db, mine.user_id, other, current_id=current, actor=actor, now=clock.now())
    assert [s.id for s in listing.of_user(db, mine.user_id, current_id=current, now=clock.now())] == [current]


def test_end_others_keeps_the_current_one(db, clock, start):
    mine = MembershipFactory()
    current = start(mine)
    start(mine), start(mine)
    assert listing.end_others(db, mine.user_id, current_id=current, actor=Actor(mine.user_id, mine.user.email),
                              now=clock.now()) == 2
    assert [s.current for s in listing.of_user(db, mine.user_id, current_id=current, now=clock.now())] == [True]

"""The audit log read as sentences."""

from __future__ import annotations

from datetime import datetime, timezone

from gateway.audit.actions import AuditAction
from gateway.audit.models import AuditEvent
from gateway.audit.sentences import _SENTENCES, sentence

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def event(action, **kw) -> AuditEvent:
    return AuditEvent(occurred_at=NOW, action=str(action), details={}, **kw)


def test_every_action_has_a_sentence():
    assert set(AuditAction) <= set(_SENTENCES)


def test_people_are_named_by_today_s_names():
    row = event(AuditAction.USER_DEACTIVATE, actor_id=1, actor_email="ada@example.com", target_id=2,
                target_email="uma@example.com")
    assert sentence(row, {1: "Ada", 2: "Uma"}) == "Ada deactivated Uma"


def test_a_deleted_account_reads_as_its_address():
    row = event(AuditAction.USER_DELETE, actor_id=1, target_id=9, target_email="gone@example.com")
    assert sentence(row, {1: "Ada"}) == "Ada deleted gone@example.com"


def test_nobody_known_is_someone():
    assert sentence(event(AuditAction.LOGIN_FAILURE), {}) == "Someone failed to sign in"
    assert sentence(event(AuditAction.AUDIT_EXPORT), {}) == "Someone exported the audit log"


def test_an_action_of_an_older_version_still_reads():
    assert sentence(event("thing:gone", actor_email="ada@example.com"), {}) == "ada@example.com: thing:gone"


def test_a_role_change_says_the_new_role_and_the_group_it_followed():
    by_hand = event(AuditAction.MEMBER_ROLE_CHANGE, actor_id=1, target_id=2)
    by_hand.details = {"old_role": "user", "new_role": "auditor"}
    by_group = event(AuditAction.MEMBER_ROLE_CHANGE, actor_email="idp:saml", target_id=2)
    by_group.details = {"old_role": "user", "new_role": "admin", "group": "leads"}

    assert sentence(by_hand, {1: "Ada", 2: "Uma"}) == "Ada changed the role of Uma to auditor"
    assert sentence(by_group, {2: "Uma"}) == "idp:saml changed the role of Uma to admin, following group leads"

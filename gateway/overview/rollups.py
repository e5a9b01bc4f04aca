"""Sign-in roll-ups, counted where the audit log records a sign-in's outcome (audit.service.record).

Every sign-in, whatever its way in (password, passkey, SAML or OIDC, an invitation's password, a
throttled attempt), writes one `login:*` (or SSO refusal) audit row through one function; that
function calls `count` here, in the same transaction. So the figures cannot drift from the log,
and no caller has to remember them. On PostgreSQL a successful sign-in costs one more statement
(the person's row for the day, and the day's count of people when the row is new, ride along as
data-modifying CTEs); SQLite, in process, takes up to three.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache

from sqlalchemy import bindparam, literal, select
from sqlalchemy.orm import Session

from gateway.audit.actions import AuditAction
from gateway.db import core_execute
from gateway.overview.models import ActiveDay, PeopleDay, SigninDay

METHODS = ("password", "passkey", "sso")
OUTCOMES = ("success", "failed", "throttled")

_OUTCOME = {
    AuditAction.LOGIN_SUCCESS: "success",
    AuditAction.LOGIN_FAILURE: "failed",
    AuditAction.LOGIN_THROTTLED: "throttled",
    AuditAction.SAML_LOGIN_DENIED: "failed",
    AuditAction.OIDC_IDP_LOGIN_DENIED: "failed",
}
# The `method` the sign-in paths put in their audit rows, by what it means on the overview.
_METHOD = {"password": "password", "invitation": "password", "passkey": "passkey", "saml": "sso", "oidc": "sso"}
SIGN_IN_ACTIONS = frozenset(str(action) for action in _OUTCOME)


def classify(action: str, details: dict) -> tuple[str, str] | None:
    """(method, outcome) of a sign-in's audit row; None for any other row.

    The recount from the audit log (tests, and anyone checking the figures) reads rows this way too.
    """
    if action not in SIGN_IN_ACTIONS:
        return None
    outcome = _OUTCOME[AuditAction(action)]
    if action in (AuditAction.SAML_LOGIN_DENIED, AuditAction.OIDC_IDP_LOGIN_DENIED):
        return "sso", outcome
    method = _METHOD.get(details.get("method") or "")
    if method is None:
        # Refusals before a method is known: a refused passkey says so; the rest came by the password form.
        method = "passkey" if details.get("reason") == "passkey_refused" else "password"
    return method, outcome


def day_of(moment: datetime) -> date:
    """The UTC day of a moment, wherever the clock's time zone is."""
    return moment.astimezone(timezone.utc).date()


def count(db: Session, *, org_id: int | None, action: str, details: dict, user_id: int | None,
          now: datetime, along=None) -> bool:
    """Add one sign-in to its organization's day (a no-op for rows that are not sign-ins, or name none).

    `along`: (a data-modifying CTE, its parameters), written in the same statement where it can be
    (PostgreSQL, a successful sign-in): the audit row, one round trip less. Returns whether it was;
    else writing it is the caller's.
    """
    found = classify(action, details)
    if found is None or org_id is None:
        return False
    method, outcome = found
    day = day_of(now)
    values = {"org_id": org_id, "day": day, "method": method, "outcome": outcome, "count": 1}
    dialect = db.get_bind().dialect.name
    statements = _statements(dialect)
    if outcome == "success" and user_id is not None:
        if statements.both is not None:
            values.update(a_org_id=org_id, a_day=day, a_user_id=user_id)
            if along is not None:
                core_execute(db, _carrying(dialect, along[0]), {**values, **along[1]})
                return True
            core_execute(db, statements.both, values)
            return False
        if core_execute(db, statements.active, {"org_id": org_id, "day": day, "user_id": user_id}).first():
            core_execute(db, statements.people, {"org_id": org_id, "day": day, "count": 1})
    core_execute(db, statements.tally, values)
    return False


@lru_cache(maxsize=8)
def _carrying(dialect: str, along):
    return _statements(dialect).both.add_cte(along)


class _Statements:
    def __init__(self, tally, active, people, both):
        self.tally, self.active, self.people, self.both = tally, active, people, both


@lru_cache(maxsize=4)
def _statements(dialect: str) -> _Statements:
    # Built once per dialect, bound per call (gateway.prepared). INSERT … ON CONFLICT DO UPDATE: of
    # two sign-ins at once on a new day, the database makes one insert and the other add.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    days = SigninDay.__table__
    tally = insert(days).on_conflict_do_update(index_elements=[days.c.org_id, days.c.day, days.c.method, days.c.outcome],
                                        set_={"count": days.c.count + 1})
    active_days, people_days = ActiveDay.__table__, PeopleDay.__table__
    active = insert(active_days).on_conflict_do_nothing().returning(active_days.c.user_id)
    people = insert(people_days).on_conflict_do_update(index_elements=[people_days.c.org_id, people_days.c.day],
                                                       set_={"count": people_days.c.count + 1})
    both = None
    if dialect == "postgresql":
        # The person's row for the day and, when it is new, one more person that day, in the same
        # statement: its own parameter names, as the outer INSERT's VALUES claims the plain ones.
        seen = (insert(active_days)
                .values(org_id=bindparam("a_org_id"), day=bindparam("a_day"), user_id=bindparam("a_user_id"))
                .on_conflict_do_nothing().returning(active_days.c.org_id, active_days.c.day).cte("seen"))
        counted = (insert(people_days)
                   .from_select(["org_id", "day", "count"], select(seen.c.org_id, seen.c.day, literal(1)))
                   .on_conflict_do_update(index_elements=[people_days.c.org_id, people_days.c.day],
                                          set_={"count": people_days.c.count + 1}).cte("counted"))
        both = tally.add_cte(counted)
    return _Statements(tally, active, people, both)

"""Writing audit events: one call, inside the caller's transaction."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.models import AuditEvent
from gateway.db import core_execute
from gateway.errors import BadRequest
from gateway.metrics import observe_audit_event
from gateway.overview import rollups

# Built once, bound per call: one plain INSERT, none of the ORM's unit of work, on every sign-in.
_events = AuditEvent.__table__
_APPEND = insert(_events)
_COLUMNS = ("occurred_at", "org_id", "action", "actor_id", "actor_email", "target_id", "target_email", "ip",
            "user_agent", "details")
# The same row as a data-modifying CTE, for a sign-in's counts to carry (overview.rollups.count): its
# own parameter names, as the statement carrying it claims the plain ones.
_APPENDED = insert(_events).values(
    {name: bindparam(f"e_{name}", type_=_events.c[name].type) for name in _COLUMNS}).cte("appended")


def record(
    db: Session,
    actor: Actor,
    action: AuditAction,
    *,
    now,
    org_id: int | None = None,
    target_id: int | None = None,
    target_email: str | None = None,
    **details,
) -> None:
    """Append one event. Never pass secrets in `details`."""
    org_id = org_id if org_id is not None else actor.org_id
    row = (now, org_id, str(action), actor.user_id, actor.email, target_id, target_email, actor.ip, actor.user_agent,
           details)
    # A sign-in's outcome is counted for the overview here, where every one of them is recorded; the
    # row itself rides along with the counts where it can.
    if not rollups.count(db, org_id=org_id, action=str(action), details=details, user_id=target_id, now=now,
                         along=(_APPENDED, {f"e_{name}": value for name, value in zip(_COLUMNS, row)})):
        core_execute(db, _APPEND, dict(zip(_COLUMNS, row)))
    observe_audit_event(str(action), details)


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None      # actor email, or part of it
    action: str | None = None     # exact action, or a subject prefix like "login:"
    since: datetime | None = None
    until: datetime | None = None


def parse_filters(actor=None, action=None, since=None, until=None) -> AuditFilters:
    """Filters from query-string values; times are ISO 8601 (a date alone means midnight UTC).

    :raise BadRequest: for an unreadable time.
    """
    return AuditFilters(
        actor=(actor or "").strip().lower()[:320] or None,
        action=(action or "").strip()[:64] or None,
        since=_parse_time(since, "since"),
        until=_parse_time(until, "until"),
    )


def _parse_time(value, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)  # stored in UTC: years 1 and 9999 overflow here, not in the driver
    except (ValueError, OverflowError):
        raise BadRequest(f"`{name}` must be an ISO 8601 date or time.", code="bad_filter") from None


def query(db: Session, org_id: int, filters: AuditFilters, *, before: int | None = None,
          limit: int | None = 100) -> list[AuditEvent]:
    """Events of one organization, newest first; `before` is the last id of the previous page."""
    statement = select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(AuditEvent.id.desc())
    if filters.actor:
        statement = statement.where(AuditEvent.actor_email.contains(filters.actor, autoescape=True))
    if filters.action:
        if filters.action.endswith(":"):
            statement = statement.where(AuditEvent.action.startswith(filters.action, autoescape=True))
        else:
            statement = statement.where(AuditEvent.action == filters.action)
    if filters.since:
        statement = statement.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        statement = statement.where(AuditEvent.occurred_at < filters.until)
    if before is not None:
        statement = statement.where(AuditEvent.id < before)
    if limit is not None:
        statement = statement.limit(limit)
    return list(db.scalars(statement))


EXPORT_FIELDS = ("id", "occurred_at", "action", "actor_id", "actor_email", "target_id", "target_email",
                 "ip", "user_agent", "details")


def export(db: Session, actor: Actor, org_id: int, filters: AuditFilters, *, fmt: str,
           now: datetime) -> list[AuditEvent]:
    """Every event the filters select, for a download; the export is itself an event (recorded after)."""
    events = query(db, org_id, filters, limit=None)
    record(db, actor, AuditAction.AUDIT_EXPORT, now=now, org_id=org_id, format=fmt, events=len(events))
    return events


def as_dict(event: AuditEvent) -> dict:
    return {
        "id": event.id, "occurred_at": event.occurred_at.isoformat(), "action": event.action,
        "actor_id": event.actor_id, "actor_email": event.actor_email, "target_id": event.target_id,
        "target_email": event.target_email, "ip": event.ip, "user_agent": event.user_agent,
        "details": event.details or {},
    }


def to_csv(events: list[AuditEvent]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for event in events:
        row = as_dict(event)
        row["details"] = json.dumps(row["details"], sort_keys=True)
        # Spreadsheet formula injection: a cell starting with = + - @ is text, not a formula.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v)
                         for k, v in row.items()})
    return buffer.getvalue()

"""Writing audit events: one call, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.models import AuditEvent


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
) -> AuditEvent:
    """Append one event. Never pass secrets in `details`."""
    event = AuditEvent(
        occurred_at=now,
        org_id=org_id if org_id is not None else actor.org_id,
        action=str(action),
        actor_id=actor.user_id,
        actor_email=actor.email,
        target_id=target_id,
        target_email=target_email,
        ip=actor.ip,
        user_agent=actor.user_agent,
        details=details,
    )
    db.add(event)
    return event

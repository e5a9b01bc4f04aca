"""/api/v1/orgs/<slug>/audit: the audit log, filtered, as JSON or CSV."""

from __future__ import annotations

from flask import Response

from gateway.api import bp, operation, query_as, scope_for
from gateway.api.schemas import AuditEvent, AuditPage, AuditQuery
from gateway.audit import service as audit
from gateway.clock import now
from gateway.db import get_session


@bp.get("/orgs/<slug>/audit")
@operation(AuditPage, query=AuditQuery, csv=True)
def audit_events(slug: str):
    """Audit events, newest first, a page at a time.

    `format=csv` exports every matching event as a spreadsheet (the export itself is recorded).
    """
    scope = scope_for(slug)
    query = query_as(AuditQuery)
    filters = audit.parse_filters(query.actor, query.action, query.since, query.until)
    db = get_session()
    if query.format == "csv":
        events = audit.export(db, scope.actor, scope.org_id, filters, fmt="csv", now=now())
        return Response(audit.to_csv(events), mimetype="text/csv")
    limit = min(max(query.limit, 1), 1000)
    events = audit.query(db, scope.org_id, filters, before=query.before, limit=limit + 1)
    next_before = events[limit - 1].id if len(events) > limit else None
    return AuditPage(events=[AuditEvent.of(e) for e in events[:limit]], next_before=next_before)

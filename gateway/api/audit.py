"""/api/v1/orgs/<slug>/audit: the audit log, filtered, as JSON or CSV."""

from __future__ import annotations

from flask import Response, jsonify, request

from gateway.api import bp, scope_for
from gateway.audit import service as audit
from gateway.audit.actions import AuditAction
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.params import row_id


@bp.get("/orgs/<slug>/audit")
def audit_events(slug: str):
    scope = scope_for(slug)
    args = request.args
    filters = audit.parse_filters(args.get("actor"), args.get("action"), args.get("since"), args.get("until"))
    fmt = args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("`format` is json or csv.", code="bad_format")
    before = row_id(args["before"]) if args.get("before") else None
    try:
        limit = min(max(int(args.get("limit", 100)), 1), 1000)
    except ValueError:
        limit = None
    if limit is None or (args.get("before") and before is None):
        raise BadRequest("`before` and `limit` must be numbers.", code="bad_filter")
    db = get_session()
    if fmt == "csv":
        events = audit.query(db, scope.org_id, filters, limit=None)
        audit.record(db, scope.actor, AuditAction.AUDIT_EXPORT, now=now(), org_id=scope.org_id,
                     format="csv", events=len(events))
        return Response(audit.to_csv(events), mimetype="text/csv")
    events = audit.query(db, scope.org_id, filters, before=before, limit=limit + 1)
    next_before = events[limit - 1].id if len(events) > limit else None
    return jsonify(events=[audit.as_dict(e) for e in events[:limit]], next_before=next_before)

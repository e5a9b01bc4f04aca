"""/api/v1/orgs/<slug>/audit: the audit log, filtered, as JSON or CSV."""

from __future__ import annotations

from flask import Response, jsonify, request

from gateway.api import bp, scope_for
from gateway.audit import service as audit
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.params import cursor


@bp.get("/orgs/<slug>/audit")
def audit_events(slug: str):
    scope = scope_for(slug)
    args = request.args
    filters = audit.parse_filters(args.get("actor"), args.get("action"), args.get("since"), args.get("until"))
    fmt = args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("`format` is json or csv.", code="bad_format")
    try:
        before = cursor(args.get("before"))
        limit = min(max(int(args.get("limit", 100)), 1), 1000)
    except ValueError:
        raise BadRequest("`before` and `limit` must be numbers.", code="bad_filter") from None
    db = get_session()
    if fmt == "csv":
        events = audit.export(db, scope.actor, scope.org_id, filters, fmt="csv", now=now())
        return Response(audit.to_csv(events), mimetype="text/csv")
    events = audit.query(db, scope.org_id, filters, before=before, limit=limit + 1)
    next_before = events[limit - 1].id if len(events) > limit else None
    return jsonify(events=[audit.as_dict(e) for e in events[:limit]], next_before=next_before)

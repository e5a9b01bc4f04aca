"""/admin/audit: who did what to whom, when, from where; with filters and export."""

from __future__ import annotations

import json

from flask import Response, render_template, request
from flask_login import login_required

from gateway.admin import bp
from gateway.audit import sentences, service as audit
from gateway.audit.actions import AuditAction
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest
from gateway.params import cursor
from gateway.web import admin_scope_of_request

PAGE = 100


def _filters(values=None):
    values = request.args if values is None else values
    return audit.parse_filters(values.get("actor"), values.get("action"), values.get("since"), values.get("until"))


@bp.get("/audit")
@login_required
def audit_log():
    scope = admin_scope_of_request()
    try:
        before = cursor(request.args.get("before"))
    except ValueError:
        raise BadRequest("That page cursor is not valid.", code="bad_cursor") from None
    events = audit.query(get_session(), scope.org_id, _filters(), before=before, limit=PAGE + 1)
    next_before = events[PAGE - 1].id if len(events) > PAGE else None
    events = events[:PAGE]
    return render_template("admin/audit.html", events=events, next_before=next_before,
                           filters=request.args, actions=[a.value for a in AuditAction], scope=scope,
                           sentence=sentences.sentence, names=sentences.names_for(get_session(), events))


@bp.post("/audit/export")
@login_required
def audit_export():
    # A POST behind the CSRF check: the export is itself recorded in the log.
    scope = admin_scope_of_request()
    fmt = request.form.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise BadRequest("Export as format=csv or format=json.", code="bad_format")
    events = audit.export(get_session(), scope.actor, scope.org_id, _filters(request.form), fmt=fmt, now=now())
    if fmt == "json":
        body, mimetype = json.dumps([audit.as_dict(e) for e in events], indent=1), "application/json"
    else:
        body, mimetype = audit.to_csv(events), "text/csv"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="idgate-audit-{scope.org_slug}.{fmt}"'})

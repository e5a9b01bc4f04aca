"""/admin: the organization at a glance (the console's home)."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import login_required

from gateway.admin import bp
from gateway.audit import sentences
from gateway.clock import now
from gateway.db import get_session
from gateway.overview import chart, services
from gateway.overview.snippets import snippets
from gateway.web import admin_scope_of_request


@bp.get("/")
@bp.get("")  # registered first: url_for builds /admin
@login_required
def overview():
    scope = admin_scope_of_request()
    dormant_days = services.parse_dormant_days(request.args.get("dormant_days"))
    figures = services.overview(get_session(), scope, now=now(), dormant_days=dormant_days)
    base_url = current_app.extensions["idgate.settings"].base_url
    return render_template("admin/overview.html", scope=scope, o=figures, chart=chart.build(figures.days),
                           snippets=snippets(base_url), snippets_base=base_url, dormant_days=dormant_days,
                           sentence=sentences.sentence, names=sentences.names_for(get_session(), figures.recent))

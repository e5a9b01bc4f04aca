"""/api/v1/orgs/<slug>/overview: the figures of the console's overview, as JSON."""

from __future__ import annotations

from gateway.api import bp, operation, query_as, scope_for
from gateway.api.schemas import Overview, OverviewQuery
from gateway.audit import sentences
from gateway.clock import now
from gateway.db import get_session
from gateway.overview import services


@bp.get("/orgs/<slug>/overview")
@operation(Overview, query=OverviewQuery)
def overview(slug: str):
    """Sign-ins per day for 30 days by method and outcome, active people, people counts, dormant
    accounts (`dormant_days`, 90 unless given), the onboarding checklist and recent admin actions."""
    scope = scope_for(slug)
    query = query_as(OverviewQuery)
    db = get_session()
    figures = services.overview(db, scope, now=now(), dormant_days=query.dormant_days)
    return Overview.of(figures, sentences.names_for(db, figures.recent))

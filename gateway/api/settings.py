"""/api/v1/orgs/<slug>/settings and a member's second factors: the same services as the console."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import FactorsReset, Settings, SettingsChange, User
from gateway.clock import now
from gateway.db import get_session
from gateway.mfa import services as mfa
from gateway.orgs import team


@bp.get("/orgs/<slug>/settings")
@operation(Settings)
def get_settings(slug: str):
    """The organization's settings."""
    scope = scope_for(slug)
    return Settings(mfa_required=mfa.requirement(get_session(), scope.org_id))


@bp.patch("/orgs/<slug>/settings")
@operation(Settings, body=SettingsChange)
def update_settings(slug: str):
    """Require (or stop requiring) a second factor; it applies from each member's next sign-in."""
    scope = scope_for(slug)
    body = body_as(SettingsChange)
    return Settings(mfa_required=mfa.set_requirement(get_session(), scope, mfa_required=body.mfa_required,
                                                     now=now()))


@bp.post("/orgs/<slug>/users/<user_id>/reset-mfa")
@operation(FactorsReset, refusals=(400, 409))
def reset_user_mfa(slug: str, user_id: str):
    """Remove a member's second factors (a lost phone); their sessions end and they are told by mail.

    400 `self_reset` (change your own on your security page), `sso_only` (their IdP keeps their
    factors); 409 `member_elsewhere` for an account other organizations hold too.
    """
    scope = scope_for(slug)
    ended = mfa.reset_factors(get_session(), scope, user_id, now=now())
    return FactorsReset(user=User.of(team.member_detail(get_session(), scope, user_id)), sessions_ended=ended)

"""What the authorization endpoint does with a valid request: one pure decision.

authlib has checked the protocol (client, exact redirect URI, response type, PKCE, nonce, prompt
syntax). What is left is ours: is the holder signed in recently enough, does the app's rule admit
them, did they use the factor the app (or `acr_values`) asks for, must they consent.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import NamedTuple

from gateway.apps.directory import AppEntry
from gateway.oidc.claims import ACR_MFA
from gateway.sessions.services import SessionContext

# Added to the authorization URL when the holder is sent to sign in again (prompt=login, max_age):
# a sign-in after this moment (unix seconds) answers it. The holder's own browser carries it, and
# could only make the demand weaker by dropping it: as it could drop prompt=login.
AFTER = "idgate_after"


class Step(Enum):
    SIGN_IN = "sign_in"  # (again): no session, prompt=login, or older than max_age
    FINISH = "finish"  # the session still owes a step of its sign-in (a temporary password's change, a second factor)
    SWITCH = "switch"  # a member of the app's organization, working in another: offer to switch
    STEP_UP = "step_up"  # a second factor is required and this session did not use one
    CONSENT = "consent"  # the page that asks
    REFUSE = "refuse"  # an OAuth error for the client
    ISSUE = "issue"  # a code


class Decision(NamedTuple):
    step: Step
    error: str | None = None  # REFUSE: the RFC's error code
    description: str | None = None


class Request(NamedTuple):
    prompt: frozenset[str]
    max_age: int | None
    acr_values: frozenset[str]
    after: int | None  # AFTER, when we sent the holder to sign in again
    consented: bool  # they answered the consent page "allow" in this request


def decide(ctx: SessionContext | None, auth_time: datetime | None, app: AppEntry | None, asked: Request, *,
           require_consent: bool, now: datetime, member_there: bool = False) -> Decision:
    """`member_there`: the holder is an active member of the app's organization too."""
    silent = "none" in asked.prompt
    if ctx is None:
        return Decision(Step.REFUSE, "login_required", "Nobody is signed in.") if silent else Decision(Step.SIGN_IN)
    if ctx.restricted:  # no code before the sign-in is complete: its step first, then back here
        if silent:
            return Decision(Step.REFUSE, "interaction_required", "The sign-in is not complete.")
        return Decision(Step.FINISH)
    signed_in_at = int(auth_time.timestamp())
    signed_in_again = asked.after is not None and signed_in_at >= asked.after  # (so max_age=0 does not loop)
    too_old = asked.max_age is not None and now.timestamp() - signed_in_at > asked.max_age
    if not signed_in_again and (too_old or "login" in asked.prompt):
        if silent:
            return Decision(Step.REFUSE, "login_required", "A fresh sign-in is needed.")
        return Decision(Step.SIGN_IN)
    if app is None or app.org_id != ctx.org_id:
        if app is not None and member_there and not silent:
            return Decision(Step.SWITCH)
        return Decision(Step.REFUSE, "access_denied", "This application belongs to another organization.")
    if not app.rule.admits(ctx.role, ctx.group_set):
        # (error_description is ASCII without quotes: no app name in it)
        return Decision(Step.REFUSE, "access_denied", "The application's access rule does not admit this member.")
    if (app.requires_mfa or ACR_MFA in asked.acr_values) and "mfa" not in ctx.amr:
        if silent:
            return Decision(Step.REFUSE, "interaction_required", "A second factor is needed.")
        return Decision(Step.STEP_UP)
    if (require_consent or "consent" in asked.prompt) and not asked.consented:
        if silent:
            return Decision(Step.REFUSE, "consent_required", "The application asks for consent.")
        return Decision(Step.CONSENT)
    return Decision(Step.ISSUE)

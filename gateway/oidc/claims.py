"""What the ID token and /userinfo say of a member, by scope: one function for both."""

from __future__ import annotations

from gateway.sessions.services import SessionContext

# acr values (OIDC Core §2): a sign-in with a second factor, or without one.
ACR_MFA, ACR_ONE_FACTOR = "urn:idgate:acr:mfa", "urn:idgate:acr:pwd"
CLAIMS = ("sub", "name", "preferred_username", "email", "email_verified", "org", "role", "groups", "amr", "acr",
          "auth_time", "nonce", "sid")


def acr_of(amr) -> str:
    return ACR_MFA if "mfa" in amr else ACR_ONE_FACTOR


def of(ctx: SessionContext, scope: str) -> dict:
    """The member's claims the scope asks for. `sub` is the account's id: stable, never reused."""
    names = set(str(scope or "").split())
    claims = {"sub": str(ctx.user_id)}
    if "profile" in names:
        claims.update(name=ctx.name, preferred_username=ctx.email, org=ctx.org_slug, role=ctx.role)
    if "email" in names:
        claims.update(email=ctx.email, email_verified=ctx.email_verified)
    if "groups" in names:
        claims["groups"] = list(ctx.groups)
    return claims

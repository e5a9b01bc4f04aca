"""Who is acting, from where: handed to services instead of the Flask request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    email: str | None = None
    org_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None

    def as_user(self, user_id: int, email: str, org_id: int | None = None) -> "Actor":
        return Actor(user_id, email, org_id if org_id is not None else self.org_id, self.ip, self.user_agent)


def actor_from_request() -> Actor:
    """The anonymous or signed-in caller of the current request."""
    from gateway.sessions.login import signed_in_context

    ua = (request.user_agent.string or "")[:256] or None
    ip = request.remote_addr
    if ctx := signed_in_context():
        return Actor(ctx.user_id, ctx.email, ctx.org_id, ip, ua)
    return Actor(ip=ip, user_agent=ua)

"""Who is acting, from where: handed to services instead of the Flask request
(`gateway.web.actor_from_request` reads it from one)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    email: str | None = None
    org_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None

    def as_user(self, user_id: int, email: str, org_id: int | None = None) -> "Actor":
        return Actor(user_id, email, org_id if org_id is not None else self.org_id, self.ip, self.user_agent)

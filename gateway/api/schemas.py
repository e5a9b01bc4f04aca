"""Explicit JSON shapes for API resources."""

from __future__ import annotations

from gateway.orgs.team import TeamMember


def _time(value):
    return value.isoformat() if value else None


def member_to_json(member: TeamMember) -> dict:
    return {
        "id": member.user_id, "name": member.name, "email": member.email, "role": member.role,
        "status": member.status, "sign_in_method": member.sign_in_method,
        "joined_at": _time(member.joined_at), "last_login_at": _time(member.last_login_at),
        "last_seen_at": _time(member.last_seen_at),
    }

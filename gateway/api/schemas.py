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


def invitation_to_json(invitation, now) -> dict:
    return {
        "id": invitation.id, "email": invitation.email, "role": str(invitation.role),
        "status": "expired" if now >= invitation.expires_at else "invited",
        "created_at": _time(invitation.created_at), "expires_at": _time(invitation.expires_at),
    }

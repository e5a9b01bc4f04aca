"""The API's JSON shapes: request bodies declared once (pydantic), checked on every request and
described in /api/v1/openapi.json from the same declarations; resources written out explicitly.

A body's types and names are checked here (a wrong type or an unknown field is a 400 naming it);
what the values mean (a valid email, a known role) is the services' to say, with their own codes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from gateway.orgs.team import TeamMember


class _Body(BaseModel):
    # Strict: "name": [null, null] is not a name, and 1 is not "1".
    model_config = ConfigDict(extra="forbid", strict=True)


class NewUser(_Body):
    """A person created in the organization with a temporary password."""

    email: str
    name: str
    role: str = "user"


class RoleChange(_Body):
    role: str


class NewInvitation(_Body):
    email: str
    role: str = "user"
    send_email: bool = False


class SamlSettings(_Body):
    """The IdP's metadata and how its answers are read (lists also as comma-separated text)."""

    metadata_xml: str
    default_role: str = "user"
    allow_idp_initiated: bool = False
    email_domains: list[str] | str = []
    admin_groups: list[str] | str = []
    group_attribute: str | None = None
    email_attribute: str | None = None
    name_attribute: str | None = None


BODIES = (NewUser, RoleChange, NewInvitation, SamlSettings)


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

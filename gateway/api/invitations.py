"""/api/v1/orgs/<slug>/invitations."""

from __future__ import annotations

from flask import jsonify

from gateway.api import body_as, bp, created, scope_for
from gateway.api.schemas import NewInvitation, invitation_to_json
from gateway.clock import now
from gateway.db import get_session
from gateway.invitations import services as invitations
from gateway.web import settings


@bp.get("/orgs/<slug>/invitations")
def list_invitations(slug: str):
    scope = scope_for(slug)
    pending = invitations.list_pending(get_session(), scope)
    return jsonify(invitations=[invitation_to_json(i, now()) for i in pending])


@bp.post("/orgs/<slug>/invitations")
def create_invitation(slug: str):
    scope = scope_for(slug)
    body = body_as(NewInvitation)
    issued = invitations.issue(get_session(), scope, email=body.email, role=body.role, send_mail=body.send_email,
                               settings=settings(), now=now())
    return created(invitation=invitation_to_json(issued.invitation, now()),
                   link=invitations.magic_link(settings(), issued.code))


@bp.delete("/orgs/<slug>/invitations/<invitation_id>")
def delete_invitation(slug: str, invitation_id: str):
    invitations.revoke(get_session(), scope_for(slug), invitation_id, now=now())
    return jsonify(deleted=True)

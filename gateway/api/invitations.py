"""/api/v1/orgs/<slug>/invitations."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import Invitation, InvitationDeleted, InvitationList, IssuedInvitation, NewInvitation
from gateway.clock import now
from gateway.db import get_session
from gateway.invitations import services as invitations
from gateway.web import settings


@bp.get("/orgs/<slug>/invitations")
@operation(InvitationList)
def list_invitations(slug: str):
    """Pending and expired invitations, newest first."""
    scope = scope_for(slug)
    pending = invitations.list_pending(get_session(), scope)
    return InvitationList(invitations=[Invitation.of(i, now()) for i in pending])


@bp.post("/orgs/<slug>/invitations")
@operation(IssuedInvitation, status=201, body=NewInvitation, refusals=(409,),
           links={"invitation_id": "/invitation/id"})
def create_invitation(slug: str):
    """Invite an address; answers the magic link once.

    400 `invalid_email`, `unknown_role`, and `mail_not_configured` for `send_email` while the gateway
    has no mail server (IDGATE_SMTP_URL); 409 `already_member`, `already_invited`.
    """
    scope = scope_for(slug)
    body = body_as(NewInvitation)
    issued = invitations.issue(get_session(), scope, email=body.email, role=body.role, send_mail=body.send_email,
                               settings=settings(), now=now())
    return IssuedInvitation(invitation=Invitation.of(issued.invitation, now()),
                            link=invitations.magic_link(settings(), issued.code))


@bp.delete("/orgs/<slug>/invitations/<invitation_id>")
@operation(InvitationDeleted)
def delete_invitation(slug: str, invitation_id: str):
    """Delete an invitation; its link stops working at once."""
    invitations.revoke(get_session(), scope_for(slug), invitation_id, now=now())
    return InvitationDeleted(deleted=True)

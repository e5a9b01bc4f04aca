"""The admin console: server-rendered pages over the same services as the JSON API."""

from flask import Blueprint

from gateway.errors import GatewayError

bp = Blueprint("admin", __name__, url_prefix="/admin")


def back_to_member(user_id: int, action, success, to: str | None = None):
    """Run an action on a member; a refusal becomes a message on the member's page (or `to`), with
    nothing written. `success` is the message, or makes it from what the action returned."""
    from flask import flash, redirect, url_for

    from gateway.web import undo

    try:
        result = action()
    except GatewayError as exc:
        undo(exc)
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash(success(result) if callable(success) else success, "notice")
    return redirect(to or url_for("admin.user_detail", user_id=user_id), 303)


from gateway.admin import (  # noqa: F401  (routes register on bp)
    apps,
    audit,
    groups,
    invitations,
    mfa,
    oidc_clients,
    overview,
    roles,
    scim,
    sso,
    users,
)

"""/admin/oidc-clients: the organization's OpenID Connect clients, the applications that sign their
members in through the gateway. A client's name and who may sign in are its app's (/admin/apps/<id>)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from gateway.admin import bp
from gateway.admin.forms import (
    ActionForm,
    ConfirmForm,
    OidcClientForm,
    OidcClientUrisForm,
)
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.oidc import clients
from gateway.web import admin_scope_of_request, settings, show_on, undo


def _uris(form: OidcClientUrisForm) -> dict:
    """The form's values as the service's keywords (a text of URIs is one a line: the service splits it)."""
    return {"redirect_uris": form.redirect_uris.data or "",
            "post_logout_redirect_uris": form.post_logout_redirect_uris.data or "",
            "backchannel_logout_uri": (form.backchannel_logout_uri.data or "").strip() or None,
            "id_token_alg": form.id_token_alg.data, "require_consent": form.require_consent.data}


def _shown_once(client, secret: str, *, created: bool):
    # The secret is in this response only: never stored, flashed (the cookie would carry it) or
    # put in a URL; like every page of ours it is not cached (gateway.web).
    view = clients.view(get_session(), client)
    return render_template("admin/oidc_client_secret.html", client=view, secret=secret, created=created,
                           **_discovery()), 201 if created else 200


def _discovery() -> dict:
    issuer = settings().base_url
    return {"issuer": issuer, "discovery_url": f"{issuer}/.well-known/openid-configuration"}


@bp.route("/oidc-clients", methods=["GET", "POST"])
@login_required
def oidc_clients_page():
    scope = admin_scope_of_request()
    db = get_session()
    form = OidcClientForm()
    if form.validate_on_submit():
        try:
            client, secret = clients.create_client(db, scope, name=form.name.data, public=form.public.data,
                                                   **_uris(form), now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="redirect_uris")
        else:
            if secret is not None:
                return _shown_once(client, secret, created=True)
            flash(f"{clients.view(db, client).name} is registered: a public client, without a secret.", "notice")
            return redirect(url_for("admin.oidc_client_detail", client_pk=client.id), 303)
    return render_template("admin/oidc_clients.html", clients=clients.list_clients(db, scope.org_id), form=form,
                           scope=scope, **_discovery()), 400 if form.errors else 200


@bp.route("/oidc-clients/<int:client_pk>", methods=["GET", "POST"])
@login_required
def oidc_client_detail(client_pk: int):
    scope = admin_scope_of_request()
    db = get_session()
    current = clients.view(db, clients.get_client(db, scope.org_id, client_pk))
    form = OidcClientUrisForm(redirect_uris="\n".join(current.redirect_uris),
                              post_logout_redirect_uris="\n".join(current.post_logout_redirect_uris),
                              backchannel_logout_uri=current.backchannel_logout_uri or "",
                              id_token_alg=current.id_token_alg, require_consent=current.require_consent)
    if form.validate_on_submit():
        try:
            clients.update_client(db, scope, client_pk, **_uris(form), now=now())
        except BadRequest as exc:
            show_on(form, exc, default="redirect_uris")
        else:
            flash("Saved. The client's next sign-in is checked against these URIs.", "notice")
            return redirect(url_for("admin.oidc_client_detail", client_pk=client_pk), 303)
    return render_template("admin/oidc_client_detail.html", client=current, form=form, action=ActionForm(),
                           scope=scope, **_discovery()), 400 if form.errors else 200


@bp.post("/oidc-clients/<int:client_pk>/secret")
@login_required
def rotate_oidc_client_secret(client_pk: int):
    scope = admin_scope_of_request()
    if not ActionForm().validate_on_submit():
        raise BadRequest("The form was incomplete.")
    db = get_session()
    try:
        secret = clients.rotate_secret(db, scope, client_pk, now=now())
    except Conflict as exc:  # a public client: it has none
        undo(exc)
        flash(exc.message, "error")
        return redirect(url_for("admin.oidc_client_detail", client_pk=client_pk), 303)
    return _shown_once(clients.get_client(db, scope.org_id, client_pk), secret, created=False)


@bp.route("/oidc-clients/<int:client_pk>/delete", methods=["GET", "POST"])
@login_required
def delete_oidc_client(client_pk: int):
    scope = admin_scope_of_request()
    form = ConfirmForm()
    db = get_session()
    client = clients.view(db, clients.get_client(db, scope.org_id, client_pk))
    if form.validate_on_submit():
        clients.delete_client(db, scope, client_pk, now=now())
        flash(f"{client.name} is deleted, with its app; the tokens it was given no longer work.", "notice")
        return redirect(url_for("admin.oidc_clients_page"), 303)
    return render_template("admin/oidc_client_delete.html", client=client, form=form, scope=scope)

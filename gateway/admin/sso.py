"""/admin/sso: connect the organization's identity provider (SAML, OpenID Connect, or both)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from gateway.admin import bp
from gateway.admin.forms import ROLE_CHOICES
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.orgs.access import AdminScope
from gateway.sso import (
    connections,
    oidc_connections,
    oidc_signin,
    routing,
    saml_protocol,
)
from gateway.web import admin_scope_of_request, settings, show_on

MAX_METADATA = 1024 * 1024
# The OIDC form's fields are named "oidc-…": beside the SAML form on one page, no two ids are the same.
OIDC_PREFIX = "oidc"


class SsoSettingsForm(FlaskForm):
    metadata_xml = TextAreaField("IdP metadata XML", validators=[Length(max=MAX_METADATA)])
    metadata_file = FileField("…or upload the metadata file")
    default_role = SelectField("Role of new SSO users", choices=ROLE_CHOICES, validate_choice=False)
    email_domains = StringField("Email domains the IdP answers for", validators=[Length(max=2000)])
    admin_groups = StringField("Groups that make someone an admin", validators=[Length(max=2000)])
    group_attribute = StringField("Group attribute (empty: groups, memberOf…)", validators=[Length(max=256)])
    email_attribute = StringField("Email attribute (empty: email, mail…)", validators=[Length(max=256)])
    name_attribute = StringField("Name attribute (empty: displayName, name…)", validators=[Length(max=256)])
    allow_idp_initiated = BooleanField("Allow sign-in started at the IdP (IdP-initiated)")


class OidcIdpForm(FlaskForm):
    """Fields named after oidc_connections.configure's parameters (show_on puts its refusals on them)."""

    issuer = StringField("Issuer URL", validators=[DataRequired("Enter your IdP's issuer URL."), Length(max=512)])
    client_id = StringField("Client ID", validators=[DataRequired("Enter the client ID your IdP gave the gateway."),
                                                     Length(max=255)])
    # A PasswordField never writes its value back into the page.
    client_secret = PasswordField("Client secret", validators=[Length(max=4096)])
    scopes = StringField("Scopes", default=oidc_connections.DEFAULT_SCOPES, validators=[Length(max=2000)])
    email_claim = StringField("Email claim (empty: email)", validators=[Length(max=256)])
    name_claim = StringField("Name claim (empty: name)", validators=[Length(max=256)])
    groups_claim = StringField("Groups claim (empty: no groups)", validators=[Length(max=256)])
    trust_email = BooleanField("The IdP verifies every email it issues")
    default_role = SelectField("Role of new SSO users", choices=ROLE_CHOICES, validate_choice=False)
    email_domains = StringField("Email domains the IdP answers for", validators=[Length(max=2000)])
    admin_groups = StringField("Groups that make someone an admin", validators=[Length(max=2000)])
    # On the page only beside a SAML IdP; otherwise a hidden copy carries the saved choice through a save.
    preferred = BooleanField("Send sign-ins to this IdP rather than the SAML one", default=True)


@bp.route("/sso", methods=["GET", "POST"])
@login_required
def sso_settings():
    scope = admin_scope_of_request()
    db = get_session()
    form = SsoSettingsForm()
    if form.validate_on_submit():
        upload = form.metadata_file.data
        xml = upload.read(MAX_METADATA + 1).decode("utf-8", "replace") if upload else form.metadata_xml.data
        try:
            connections.configure(
                db, scope.org_id, metadata_xml=xml or "", default_role=form.default_role.data,
                allow_idp_initiated=form.allow_idp_initiated.data, email_domains=form.email_domains.data,
                admin_groups=form.admin_groups.data, group_attribute=form.group_attribute.data,
                email_attribute=form.email_attribute.data, name_attribute=form.name_attribute.data,
                actor=scope.actor, now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="metadata_xml")
        else:
            flash("Single sign-on is connected.", "notice")
            return redirect(url_for("admin.sso_settings"), 303)
    return _page(db, scope, saml_form=form if form.is_submitted() else None)


@bp.post("/sso/oidc")
@login_required
def oidc_idp_settings():
    scope = admin_scope_of_request()
    db = get_session()
    form = OidcIdpForm(prefix=OIDC_PREFIX)
    if form.validate_on_submit():
        try:
            oidc_connections.configure(
                db, scope.org_id, issuer=form.issuer.data, client_id=form.client_id.data,
                client_secret=form.client_secret.data or None,  # empty: keep the sealed one
                certs_dir=settings().certs_dir,
                scopes=(form.scopes.data or "").strip() or None, email_claim=form.email_claim.data,
                name_claim=form.name_claim.data, groups_claim=form.groups_claim.data,
                trust_email=form.trust_email.data, default_role=form.default_role.data,
                admin_groups=form.admin_groups.data, email_domains=form.email_domains.data,
                preferred=form.preferred.data, actor=scope.actor, now=now())
        except (BadRequest, Conflict) as exc:
            show_on(form, exc, default="issuer")
        else:
            flash("Sign-in through your OpenID Connect IdP is connected.", "notice")
            return redirect(url_for("admin.sso_settings"), 303)
    return _page(db, scope, oidc_form=form)


def _page(db, scope: AdminScope, *, saml_form: SsoSettingsForm | None = None,
          oidc_form: OidcIdpForm | None = None):
    """The page, with the form just posted as it came (and its errors), the other one as saved."""
    saml = connections.idp_settings(db, scope.org_id)
    oidc = oidc_connections.oidc_settings(db, scope.org_id)
    # One list of domains per organization, whichever protocol: both forms show it, so saving
    # either (even a first OIDC connection beside SAML) keeps the domains it did not mean to change.
    domains = connections.declared_domains(db, scope.org_id)
    if saml_form is None:
        saml_form = _as_saved(SsoSettingsForm(formdata=None, obj=saml), saml, domains)
    if oidc_form is None:
        oidc_form = _as_saved(OidcIdpForm(formdata=None, obj=oidc, prefix=OIDC_PREFIX), oidc, domains)
    try:
        goes_to = routing.protocol_of(db, scope.org_slug)
    except connections.SsoNotConfigured:
        goes_to = None
    sp = saml_protocol.service_provider(settings(), scope.org_slug)
    return render_template("admin/sso.html", form=saml_form, sp=sp, connection=saml, oidc_form=oidc_form, oidc=oidc,
                           redirect_uri=oidc_signin.callback_url(settings(), scope.org_slug), goes_to=goes_to,
                           domains=domains, scope=scope), 400 if saml_form.errors or oidc_form.errors else 200


def _as_saved(form, saved, domains: list[str]):
    form.email_domains.data = ", ".join(domains)
    if saved:
        form.admin_groups.data = ", ".join(saved.admin_groups)
    return form

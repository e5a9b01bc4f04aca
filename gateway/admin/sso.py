"""/admin/sso: connect the organization's identity provider."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from gateway.admin import bp
from gateway.admin.forms import ROLE_CHOICES
from gateway.clock import now
from gateway.db import get_session
from gateway.errors import BadRequest, Conflict
from gateway.sso import connections, saml_protocol
from gateway.web import admin_scope_of_request, settings, show_on

MAX_METADATA = 1024 * 1024


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


@bp.route("/sso", methods=["GET", "POST"])
@login_required
def sso_settings():
    scope = admin_scope_of_request()
    db = get_session()
    connection = connections.idp_settings(db, scope.org_id)
    form = SsoSettingsForm(obj=connection) if connection else SsoSettingsForm()
    if connection and not form.is_submitted():
        form.email_domains.data = ", ".join(connection.email_domains)
        form.admin_groups.data = ", ".join(connection.admin_groups)
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
    sp = saml_protocol.service_provider(settings(), scope.org_slug)
    return render_template("admin/sso.html", form=form, sp=sp, connection=connection, scope=scope), \
        400 if form.errors else 200

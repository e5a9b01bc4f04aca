"""Admin console forms (shape only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

ROLE_CHOICES = [SelectChoice("user", "User"), SelectChoice("admin", "Admin")]


class CreateUserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter their name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired("Enter their email address."), Length(max=320)])
    # validate_choice off: an unknown role reaches the service, which names the problem.
    role = SelectField("Role", choices=ROLE_CHOICES, default="user", validate_choice=False)


class RoleForm(FlaskForm):
    # Choices: every role name of the organization (gateway.orgs.roles.names), set per request.
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)

    def offer(self, role_names) -> RoleForm:
        self.role.choices = [SelectChoice(name, name.capitalize()) for name in role_names]
        return self


class ConfirmForm(FlaskForm):
    """A confirmation: `version` is the member's state when the page was shown."""

    version = HiddenField()


class ActionForm(FlaskForm):
    """A bare POST button: only the CSRF token."""


class RequirementForm(FlaskForm):
    mfa_required = BooleanField("Require a second factor of members who sign in with a password")


class CheckboxesField(SelectMultipleField):
    """Several choices, each a checkbox (the template lays them out in a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AppForm(FlaskForm):
    # Choices of roles and groups are the organization's, set per request; validate_choice off: an
    # unknown name reaches the service, which names the problem.
    name = StringField("Name", validators=[Length(max=200)])
    routes = TextAreaField("Routes", validators=[Length(max=10000)])
    access = RadioField("Who can reach it", choices=[
        SelectChoice("everyone", "Everyone in the organization"),
        SelectChoice("listed", "Only the roles and groups below")], default="everyone", validate_choice=False)
    roles = CheckboxesField("Roles", choices=[], validate_choice=False)
    groups = CheckboxesField("Groups", choices=[], validate_choice=False)
    requires_mfa = BooleanField("Require a second factor")

    def offer(self, role_names, group_names) -> AppForm:
        self.roles.choices = [SelectChoice(name, name) for name in role_names]
        self.groups.choices = [SelectChoice(name, name) for name in group_names]
        return self


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    description = StringField("Description", validators=[Length(max=1000)])
    sso_name = StringField("IdP group that fills it (SAML group attribute value)", validators=[Length(max=1000)])
    # Choices: no role, then every role name of the organization (gateway.orgs.roles.names), set per
    # request; validate_choice off: the service names an unknown role.
    role = SelectField("Role its members take", choices=[], validate_choice=False)

    def offer(self, role_names) -> GroupForm:
        self.role.choices = [SelectChoice("", "None")] + [SelectChoice(name, name.capitalize()) for name in role_names]
        return self


class GroupMemberForm(FlaskForm):
    # The organization's members, set per request; validate_choice off: the service says who is not one.
    user_id = SelectField("Member", choices=[], validate_choice=False)


class NewRoleForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    description = StringField("Description", validators=[Length(max=1000)])


class RoleDescriptionForm(FlaskForm):
    description = StringField("Description", validators=[Length(max=1000)])


ALG_CHOICES = [SelectChoice("RS256", "RS256 (what every client accepts)"), SelectChoice("ES256", "ES256")]


class OidcClientUrisForm(FlaskForm):
    """What an OpenID Connect client's page changes: its URIs (one a line) and how it signs members in.
    Fields are named after gateway.oidc.clients' parameters; validate_choice off: the service names
    an unknown algorithm."""

    redirect_uris = TextAreaField("Redirect URIs", validators=[Length(max=25000)])
    post_logout_redirect_uris = TextAreaField("Post-logout redirect URIs", validators=[Length(max=25000)])
    backchannel_logout_uri = StringField("Back-channel logout URI", validators=[Length(max=2100)])
    id_token_alg = SelectField("ID token signature", choices=ALG_CHOICES, default="RS256", validate_choice=False)
    require_consent = BooleanField("Ask members for consent")


class OidcClientForm(OidcClientUrisForm):
    """Registering a client: its application's name, and whether it keeps a secret."""

    name = StringField("Name", validators=[Length(max=200)])
    public = BooleanField("Public client (no secret: a single-page or native app, PKCE only)")


class ScimTokenForm(FlaskForm):
    """A new SCIM token: what it is for (the IdP's name)."""

    name = StringField("Name", validators=[Length(max=80)])

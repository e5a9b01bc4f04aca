"""Admin console forms (shape only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

ROLE_CHOICES = [SelectChoice("user", "User"), SelectChoice("admin", "Admin")]


class CreateUserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter their name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired("Enter their email address."), Length(max=320)])
    # validate_choice off: an unknown role reaches the service, which names the problem.
    role = SelectField("Role", choices=ROLE_CHOICES, default="user", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class ConfirmForm(FlaskForm):
    """A confirmation: `version` is the member's state when the page was shown."""

    version = HiddenField()


class ActionForm(FlaskForm):
    """A bare POST button: only the CSRF token."""


class RequirementForm(FlaskForm):
    mfa_required = BooleanField("Require a second factor of members who sign in with a password")

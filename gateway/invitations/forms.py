"""Forms of the invitation page (shape only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from gateway.admin.forms import ROLE_CHOICES
from gateway.config import PASSWORD_MAX_LENGTH

_PASSWORD_CAP = Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long.")


class RedeemForm(FlaskForm):
    """One form for every step; `step` says which fields matter."""

    step = HiddenField(default="email")
    email = EmailField("Your email address", validators=[DataRequired("Type the email address you were invited with."),
                                                         Length(max=320)])
    name = StringField("Your name", validators=[Length(max=200)])
    password = PasswordField("Password", validators=[_PASSWORD_CAP])


class InviteForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter the address to invite."), Length(max=320)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="user", validate_choice=False)
    send_mail = BooleanField("Also send the link by email")

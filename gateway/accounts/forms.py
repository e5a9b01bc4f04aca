"""Form shapes for sign-up, sign-in and password changes (no database lookups here)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gateway.config import PASSWORD_MAX_LENGTH

# Generous caps on raw input: the services apply the real rules with clear messages.
_EMAIL = [DataRequired("Enter your email address."), Length(max=320, message="That email address is too long.")]
_PASSWORD_CAP = Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long.")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=_EMAIL)
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), _PASSWORD_CAP])
    next = HiddenField()


class SignupForm(FlaskForm):
    org_name = StringField("Organization name", validators=[DataRequired("Name your organization."),
                                                            Length(max=200)])
    org_slug = StringField("Short name (used in URLs)", validators=[DataRequired("Choose a short name."),
                                                                      Length(max=200)])
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=200)])
    email = EmailField("Email", validators=_EMAIL)
    password = PasswordField("Password", validators=[DataRequired("Choose a password."), _PASSWORD_CAP])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[_PASSWORD_CAP])
    new_password = PasswordField("New password", validators=[DataRequired("Choose a new password."),
                                                             _PASSWORD_CAP])


class SwitchForm(FlaskForm):
    org = HiddenField(validators=[DataRequired(), Length(max=40)])
    next = HiddenField(validators=[Length(max=4096)])  # where to go on (an authorization request), checked


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=_EMAIL)


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired("Choose a new password."),
                                                             _PASSWORD_CAP])

"""Form shapes for the second step and the security page (no database lookups here)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length


class CodeForm(FlaskForm):
    # Named `code` (the public contract): password managers and tests find it by that name.
    code = StringField("Code", validators=[DataRequired("Enter the code."), Length(max=64)])
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class PasskeyAnswerForm(FlaskForm):
    """A passkey's answer: the JSON the browser gave, put into the form by passkeys.js."""

    credential = HiddenField(validators=[DataRequired("Use your passkey first."), Length(max=10 * 1024)])
    next = HiddenField()


class NewPasskeyForm(PasskeyAnswerForm):
    name = StringField("Passkey name", validators=[Length(max=64, message="At most 64 characters.")])

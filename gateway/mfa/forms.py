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

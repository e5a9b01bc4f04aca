"""A refusal shown to the person commits nothing of the request, but the audit row a service
wrote for it; and it lands on the form field it is about, named by the service, not by a view's
map of codes."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from gateway.accounts.forms import ChangePasswordForm, SignupForm
from gateway.accounts.services import validate_name
from gateway.audit.models import AuditEvent
from gateway.db import get_session
from gateway.errors import BadRequest, InvalidCredentials, PolicyViolation, about
from gateway.orgs.services import validate_slug
from gateway.web import show_on
from tests.helpers.processes import ROOT

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _audit_rows(db) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test:written"))


def _a_request_that_wrote_then_was_refused(app, refusal) -> SignupForm:
    with app.test_request_context("/signup", method="POST", data={}):
        get_session().add(AuditEvent(occurred_at=NOW, action="test:written", details={}))
        get_session().flush()
        form = SignupForm(formdata=MultiDict())
        show_on(form, refusal, default="email")
        app.process_response(app.response_class("page", status=400))  # the edge commits what is left
        return form


def test_the_requests_writes_are_undone(app, db):
    _a_request_that_wrote_then_was_refused(app, BadRequest("No.", field="org_slug"))
    assert _audit_rows(db) == 0


def test_a_refusal_the_service_recorded_keeps_its_row(app, db):
    _a_request_that_wrote_then_was_refused(app, InvalidCredentials())
    assert _audit_rows(db) == 1


def test_the_message_lands_on_the_field_the_error_names(app):
    form = _a_request_that_wrote_then_was_refused(app, BadRequest("Taken.", field="org_slug"))
    assert list(form.org_slug.errors) == ["Taken."] and not form.email.errors


def test_an_error_about_no_field_of_the_form_lands_on_the_default(app):
    form = _a_request_that_wrote_then_was_refused(app, BadRequest("No.", field="metadata_xml"))
    assert form.email.errors == ["No."]


def test_a_password_policy_refusal_lists_every_problem_on_the_field_the_service_named(app):
    with app.test_request_context("/password/change", method="POST"):
        form = ChangePasswordForm(formdata=MultiDict())
        try:
            with about("new_password"):
                raise PolicyViolation(["Too short.", "Too common."])
        except PolicyViolation as exc:
            show_on(form, exc, default="current_password")
    assert form.new_password.errors == ["Too short.", "Too common."]


def test_validators_name_what_they_validate():
    for validate, value, field in [(validate_name, "x", "name"), (validate_slug, "-", "org_slug")]:
        try:
            validate(value)
        except BadRequest as exc:
            assert exc.field == field
        else:
            raise AssertionError(f"{validate.__name__} accepted {value!r}")


def test_no_view_rolls_back_by_hand():
    # One place decides what a refusal keeps (gateway.web.undo); the edge (gateway.db) and the
    # error handlers (gateway.errors) end transactions; nothing else does.
    allowed = {"gateway/db.py", "gateway/errors.py", "gateway/web.py"}
    found = [str(path.relative_to(ROOT)) for path in (ROOT / "gateway").rglob("*.py")
             if re.search(r"\.rollback\(\)", path.read_text()) and str(path.relative_to(ROOT)) not in allowed]
    assert found == []

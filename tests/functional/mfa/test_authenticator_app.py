"""An authenticator app: set up with a QR code or the otpauth URI, confirmed with a code, then asked
for after the password; each code works once."""

from __future__ import annotations

import shutil

import pyotp
import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.mfa.models import TotpFactor
from tests.conftest import csrf_token_in
from tests.functional.mfa.conftest import App, enrol, oathtool_code, second_step


def _actions(db) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_setting_up_shows_a_qr_code_the_uri_and_the_key(member, auth, client):
    auth.login(member.user.email)
    page = client.get("/account/security").get_data(as_text=True)
    client.post("/account/security/totp", data={"csrf_token": csrf_token_in(page)})

    page = client.get("/account/security").get_data(as_text=True)

    assert "<svg" in page and 'class="wrap">otpauth://totp/idgate' in page
    assert 'id="totp-secret"' in page and 'name="code"' in page


def test_the_app_counts_once_confirmed_and_the_session_says_so(member, auth, client, clock, db):
    auth.login(member.user.email)
    app, codes = enrol(client, clock)

    assert len(codes) == 10 and len(set(codes)) == 10
    verify = client.get("/auth/verify")
    assert verify.status_code == 200 and verify.headers["X-Auth-Amr"] == "pwd otp mfa"
    assert "mfa:totp_add" in _actions(db)


def test_a_wrong_first_code_turns_nothing_on(member, auth, client, db):
    auth.login(member.user.email)
    page = client.get("/account/security").get_data(as_text=True)
    client.post("/account/security/totp", data={"csrf_token": csrf_token_in(page)})
    page = client.get("/account/security").get_data(as_text=True)

    refused = client.post("/account/security/totp/confirm", data={"csrf_token": csrf_token_in(page), "code": "000000"})

    assert refused.status_code == 400 and "not right" in refused.get_data(as_text=True)
    assert db.scalar(select(TotpFactor.confirmed_at)) is None


def test_the_secret_is_sealed_in_the_database(with_app, db):
    _, app, _ = with_app
    sealed = db.scalar(select(TotpFactor.secret_sealed))
    assert app.secret not in sealed and app.secret.lower() not in sealed.lower()


def test_after_the_password_the_second_step_comes_first(with_app, auth, client):
    member, app, _ = with_app

    signed_in = auth.login(member.user.email, next="/account")

    # The answer to the password is the code form itself, posting to /login/verify and keeping `next`.
    page = signed_in.get_data(as_text=True)
    assert signed_in.status_code == 200 and "Location" not in signed_in.headers
    assert "Confirm it is you" in page and 'name="code"' in page
    assert 'action="/login/verify?next=/account"' in page and 'name="next" type="hidden" value="/account"' in page
    assert signed_in.headers["Cache-Control"] == "no-store"
    assert client.get("/auth/verify").status_code == 401
    assert client.get("/admin/users").headers["Location"].startswith("/login/verify")
    passed = second_step(client, app.code(), next_url="/account")
    assert passed.status_code == 303 and passed.headers["Location"] == "/account"
    assert client.get("/auth/verify").headers["X-Auth-Amr"] == "pwd otp mfa"


def test_the_code_form_in_the_answer_keeps_no_unsafe_next(with_app, auth, client):
    member, app, _ = with_app

    signed_in = auth.login(member.user.email, next="https://evil.example/")

    page = signed_in.get_data(as_text=True)
    assert signed_in.status_code == 200 and 'name="code"' in page and "evil.example" not in page
    passed = second_step(client, app.code())
    assert passed.headers["Location"] == "/account"


def test_the_step_gives_a_new_token(with_app, auth, client):
    member, app, _ = with_app
    auth.login(member.user.email)
    before = client.get_cookie("idgate_session").value

    second_step(client, app.code())

    assert client.get_cookie("idgate_session").value != before
    client.set_cookie("idgate_session", before)
    assert client.get("/auth/verify").status_code == 401  # the token from before the step ends with it


def test_a_code_works_once_and_no_older_one_after_it(with_app, auth, client, clock):
    member, app, _ = with_app
    auth.login(member.user.email)
    code, older = app.code(), app.code(steps=-1)
    assert second_step(client, code).status_code == 303
    auth.logout()

    auth.login(member.user.email)
    assert second_step(client, code).status_code == 401
    assert second_step(client, older).status_code == 401
    clock.advance(seconds=30)
    assert second_step(client, app.code()).status_code == 303


def test_a_code_a_step_early_or_late_is_taken(with_app, auth, client):
    member, app, _ = with_app
    auth.login(member.user.email)
    assert second_step(client, app.code(steps=1)).status_code == 303


@pytest.mark.skipif(shutil.which("oathtool") is None, reason="Debian's oathtool is not installed")
def test_codes_from_oathtool_are_taken(with_app, auth, client, clock):
    member, app, _ = with_app
    auth.login(member.user.email)
    assert second_step(client, oathtool_code(app.secret, clock)).status_code == 303


@pytest.mark.parametrize("code", ["123 456", "12345", "1234567", "abcdef", " 123456", ""])
def test_a_code_of_the_wrong_shape_is_a_clear_400(with_app, auth, client, db, code):
    member, app, _ = with_app
    auth.login(member.user.email)

    refused = second_step(client, code)

    assert refused.status_code == 400 and "code" in refused.get_data(as_text=True)
    assert client.get("/auth/verify").status_code == 401


def test_a_wrong_code_is_refused_and_audited(with_app, auth, client, db):
    member, app, _ = with_app
    auth.login(member.user.email)

    refused = second_step(client, "000000" if app.code() != "000000" else "111111")

    assert refused.status_code == 401 and "not right" in refused.get_data(as_text=True)
    assert _actions(db)[-1] == "mfa:failure"


def test_removing_the_app_leaves_the_password_alone(with_app, auth, client, db):
    member, app, _ = with_app
    auth.login(member.user.email)
    second_step(client, app.code())
    page = client.get("/account/security").get_data(as_text=True)

    client.post("/account/security/totp/remove", data={"csrf_token": csrf_token_in(page)})
    auth.logout()

    assert auth.login(member.user.email).headers["Location"] == "/account"
    assert "mfa:totp_remove" in _actions(db)


def test_step_up_sends_a_session_without_a_second_factor_to_the_second_step(member, auth, client):
    auth.login(member.user.email)

    answer = client.get("/auth/verify?mfa=1", headers={"X-Original-URL": "http://127.0.0.1:5000/reports"})

    assert answer.status_code == 401
    assert answer.headers["X-Auth-Redirect"] == (
        "http://127.0.0.1:5000/login/verify?next=http%3A%2F%2F127.0.0.1%3A5000%2Freports")
    assert client.get("/auth/verify").status_code == 200  # an app that does not ask lets it pass


def test_step_up_passes_once_the_code_is_given(with_app, auth, client):
    member, app, _ = with_app
    auth.login(member.user.email)
    second_step(client, app.code())
    assert client.get("/auth/verify?mfa=1").status_code == 200


def test_the_token_carries_amr(with_app, auth, client):
    from gateway.tokens import jwt

    member, totp_app, _ = with_app
    auth.login(member.user.email)
    second_step(client, totp_app.code())
    token = client.get("/auth/verify").headers["X-Auth-Token"]
    claims = jwt.verify(token, client.application.extensions["idgate.settings"],
                        client.application.extensions["idgate.clock"].now())
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_app_is_a_plain_holder():  # the helper itself: codes a step apart differ
    from gateway.clock import FrozenClock

    app = App(pyotp.random_base32(), FrozenClock())
    assert app.code() != app.code(steps=1)


def test_a_key_sealed_with_a_key_the_gateway_lost_is_a_clear_409_not_a_500(with_app, auth, client, app):
    from gateway.mfa import sealing

    member, totp_app, _ = with_app
    certs = app.extensions["idgate.settings"].certs_dir
    sealing.add_key(certs)
    sealing.keep_newest(certs, 1)  # a restore without the certs/ of its time
    auth.login(member.user.email)

    answer = second_step(client, totp_app.code())

    assert answer.status_code == 409 and "cannot be read" in answer.get_data(as_text=True)
    assert client.get("/auth/verify").status_code == 401


def test_a_wrong_code_is_not_shown_again(with_app, auth, client):
    member, _, _ = with_app
    auth.login(member.user.email)
    assert 'value="999999"' not in second_step(client, "999999").get_data(as_text=True)

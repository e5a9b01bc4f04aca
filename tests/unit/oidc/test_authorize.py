"""The authorization endpoint's own decision, after authlib has checked the protocol."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from gateway.apps.directory import AppEntry
from gateway.apps.rules import Rule
from gateway.oidc.authorize import Request, Step, decide
from gateway.oidc.claims import ACR_MFA
from gateway.sessions.services import SessionContext

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
SIGNED_IN = NOW - timedelta(minutes=10)
CTX = SessionContext(1, 2, "ada@example.com", "Ada", 7, "acme", "Acme", "user", False, NOW + timedelta(hours=8),
                     amr=("pwd",), groups=("ops",))
APP = AppEntry(3, "Grafana", 7, "acme", "Acme", Rule(True), False)


def asked(prompt="", max_age=None, acr="", after=None, consented=False):
    return Request(frozenset(prompt.split()), max_age, frozenset(acr.split()), after, consented)


def test_a_signed_in_member_the_rule_admits_gets_a_code():
    assert decide(CTX, SIGNED_IN, APP, asked(), require_consent=False, now=NOW).step is Step.ISSUE


def test_nobody_signed_in_signs_in_or_with_prompt_none_is_login_required():
    assert decide(None, None, APP, asked(), require_consent=False, now=NOW).step is Step.SIGN_IN
    assert decide(None, None, APP, asked("none"), require_consent=False, now=NOW).error == "login_required"


def test_max_age_and_prompt_login_ask_for_a_sign_in_after_the_request():
    assert decide(CTX, SIGNED_IN, APP, asked(max_age=60), require_consent=False, now=NOW).step is Step.SIGN_IN
    assert decide(CTX, SIGNED_IN, APP, asked(max_age=3600), require_consent=False, now=NOW).step is Step.ISSUE
    assert decide(CTX, SIGNED_IN, APP, asked("login"), require_consent=False, now=NOW).step is Step.SIGN_IN
    after = int(SIGNED_IN.timestamp()) - 1  # signed in again since we asked: max_age=0 does not loop
    assert decide(CTX, SIGNED_IN, APP, asked("login", max_age=0, after=after), require_consent=False,
                  now=NOW).step is Step.ISSUE


def test_the_apps_rule_and_organization_decide_access():
    admins_only = APP._replace(rule=Rule(False, frozenset({"admin"})))
    assert decide(CTX, SIGNED_IN, admins_only, asked(), require_consent=False, now=NOW).error == "access_denied"
    ops = APP._replace(rule=Rule(False, groups=frozenset({"ops"})))
    assert decide(CTX, SIGNED_IN, ops, asked(), require_consent=False, now=NOW).step is Step.ISSUE
    elsewhere = APP._replace(org_id=8)
    assert decide(CTX, SIGNED_IN, elsewhere, asked(), require_consent=False, now=NOW).error == "access_denied"


def test_a_member_of_the_apps_organization_working_in_another_is_offered_to_switch_unless_silent():
    elsewhere = APP._replace(org_id=8)
    assert decide(CTX, SIGNED_IN, elsewhere, asked(), require_consent=False, now=NOW,
                  member_there=True).step is Step.SWITCH
    assert decide(CTX, SIGNED_IN, elsewhere, asked("none"), require_consent=False, now=NOW,
                  member_there=True).error == "access_denied"


def test_a_second_factor_asked_by_the_app_or_acr_values_steps_up():
    assert decide(CTX, SIGNED_IN, APP._replace(requires_mfa=True), asked(), require_consent=False,
                  now=NOW).step is Step.STEP_UP
    assert decide(CTX, SIGNED_IN, APP, asked(acr=ACR_MFA), require_consent=False, now=NOW).step is Step.STEP_UP
    assert decide(CTX, SIGNED_IN, APP, asked("none", acr=ACR_MFA), require_consent=False,
                  now=NOW).error == "interaction_required"
    with_mfa = replace(CTX, amr=("pwd", "otp", "mfa"))
    assert decide(with_mfa, SIGNED_IN, APP._replace(requires_mfa=True), asked(), require_consent=False,
                  now=NOW).step is Step.ISSUE


def test_consent_is_asked_only_when_the_client_or_the_request_wants_it():
    assert decide(CTX, SIGNED_IN, APP, asked(), require_consent=True, now=NOW).step is Step.CONSENT
    assert decide(CTX, SIGNED_IN, APP, asked("consent"), require_consent=False, now=NOW).step is Step.CONSENT
    assert decide(CTX, SIGNED_IN, APP, asked("consent", consented=True), require_consent=False,
                  now=NOW).step is Step.ISSUE
    assert decide(CTX, SIGNED_IN, APP, asked("none"), require_consent=True, now=NOW).error == "consent_required"

"""The audit log read as sentences: "Ada deactivated Uma", beside the action's code.

Names are today's names of the accounts the rows name (looked up once a page), else the addresses
the rows copied in; a deleted account still reads as its address.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.audit.actions import AuditAction as A
from gateway.audit.models import AuditEvent

SOMEONE = "Someone"

# {actor} and {target} are people.
_SENTENCES: dict[str, str] = {
    A.ORG_CREATE: "{actor} created the organization",
    A.USER_SIGNUP: "{actor} signed up",
    A.USER_CREATE: "{actor} added {target}",
    A.USER_DEACTIVATE: "{actor} deactivated {target}",
    A.USER_REACTIVATE: "{actor} reactivated {target}",
    A.USER_DELETE: "{actor} deleted {target}",
    A.USER_PASSWORD_RESET: "{actor} reset the password of {target}",
    A.MEMBER_ROLE_CHANGE: "{actor} changed the role of {target}",
    A.MEMBER_SWITCH_ORG: "{actor} switched to this organization",
    A.INVITATION_CREATE: "{actor} invited {target}",
    A.INVITATION_DELETE: "{actor} withdrew the invitation of {target}",
    A.INVITATION_ACCEPT: "{target} accepted an invitation",
    A.LOGIN_SUCCESS: "{target} signed in",
    A.LOGIN_FAILURE: "{target} failed to sign in",
    A.LOGIN_THROTTLED: "Sign-ins as {target} were throttled",
    A.LOGOUT: "{actor} signed out",
    A.PASSWORD_CHANGE: "{actor} changed their password",
    A.PASSWORD_CHANGE_FAILURE: "{actor} gave a wrong current password",
    A.PASSWORD_TEMPORARY_CHANGE: "{actor} replaced their temporary password",
    A.AUDIT_EXPORT: "{actor} exported the audit log",
    A.SAML_CONFIGURE: "{actor} configured SAML single sign-on",
    A.SAML_LOGIN_DENIED: "A SAML sign-in was refused",
    A.SAML_LOGOUT: "{actor} signed out through SAML",
    A.ORG_SETTINGS: "{actor} changed the organization's settings",
    A.USER_MFA_RESET: "{actor} reset the second factors of {target}",
    A.MFA_TOTP_ADD: "{actor} added an authenticator app",
    A.MFA_TOTP_REMOVE: "{actor} removed an authenticator app",
    A.MFA_RECOVERY_CODES_NEW: "{actor} made new recovery codes",
    A.MFA_RECOVERY_CODE_USED: "{actor} used a recovery code",
    A.MFA_SUCCESS: "{target} passed the second step",
    A.MFA_FAILURE: "{target} failed the second step",
    A.MFA_THROTTLED: "Second steps of {target} were throttled",
    A.MFA_PASSKEY_ADD: "{actor} added a passkey",
    A.MFA_PASSKEY_REMOVE: "{actor} removed a passkey",
    A.MFA_PASSKEY_COUNTER: "A passkey of {target} was refused: probably a copy",
    A.ROLE_CREATE: "{actor} created a role",
    A.ROLE_UPDATE: "{actor} changed a role",
    A.ROLE_DELETE: "{actor} deleted a role",
    A.GROUP_CREATE: "{actor} created a group",
    A.GROUP_UPDATE: "{actor} changed a group",
    A.GROUP_DELETE: "{actor} deleted a group",
    A.GROUP_MEMBER_ADD: "{actor} added {target} to a group",
    A.GROUP_MEMBER_REMOVE: "{actor} removed {target} from a group",
    A.APP_CREATE: "{actor} registered an app",
    A.APP_UPDATE: "{actor} changed an app",
    A.APP_DELETE: "{actor} removed an app",
    A.OIDC_CLIENT_CREATE: "{actor} registered an OIDC client",
    A.OIDC_CLIENT_UPDATE: "{actor} changed an OIDC client",
    A.OIDC_CLIENT_DELETE: "{actor} removed an OIDC client",
    A.OIDC_CLIENT_SECRET: "{actor} replaced an OIDC client's secret",
    A.OIDC_REPLAY: "A replayed OIDC code or token was refused",
    A.OIDC_IDP_CONFIGURE: "{actor} configured OpenID Connect single sign-on",
    A.OIDC_IDP_LOGIN_DENIED: "An OpenID Connect sign-in was refused",
    A.OIDC_IDP_LOGOUT: "The IdP signed {target} out",
    A.PASSWORD_RESET_REQUEST: "A password reset link was asked for {target}",
    A.PASSWORD_RESET: "{actor} set a new password through a reset link",
    A.SESSION_END: "{actor} ended a session of {target}",
    A.SESSION_END_OTHERS: "{actor} signed out everywhere else",
    A.SCIM_TOKEN_CREATE: "{actor} created a SCIM token",
    A.SCIM_TOKEN_REVOKE: "{actor} revoked a SCIM token",
    A.USER_EMAIL_CHANGE: "The IdP changed the email address of {target}",
}
# Said after the sentence when the row holds that detail (each `{detail}` filled from it).
_WHEN_GIVEN: dict[str, tuple[tuple[str, str], ...]] = {
    A.MEMBER_ROLE_CHANGE: (("new_role", " to {new_role}"), ("group", ", following group {group}")),
}


def names_for(db: Session, events: list[AuditEvent]) -> dict[int, str]:
    """Today's names of the accounts a page of events names: one query, however many rows."""
    ids = {i for e in events for i in (e.actor_id, e.target_id) if i is not None}
    if not ids:
        return {}
    return dict(db.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def sentence(event: AuditEvent, names: dict[int, str]) -> str:
    """One row as a sentence, e.g. "Ada Lovelace deactivated Uma Ito"."""
    def who(user_id, email, fallback):
        return names.get(user_id) or email or fallback

    actor = who(event.actor_id, event.actor_email, SOMEONE)
    target = who(event.target_id, event.target_email, "someone")
    template = _SENTENCES.get(event.action)
    if template is None:
        return f"{actor}: {event.action}"
    text = template.format(actor=actor, target=target)
    details = event.details if isinstance(event.details, dict) else {}
    for detail, words in _WHEN_GIVEN.get(event.action, ()):
        if details.get(detail):
            text += words.format_map({detail: str(details[detail])[:200]})
    # A name or an address is left as written ("ada@example.com", "idp:saml"); the template's own words
    # start with a capital.
    named = (template.startswith("{actor}") and actor != SOMEONE) or \
        (template.startswith("{target}") and target != "someone")
    return text if named else text[0].upper() + text[1:]

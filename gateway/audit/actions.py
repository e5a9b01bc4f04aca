"""The audit vocabulary, as "subject:action"."""

from enum import StrEnum


class AuditAction(StrEnum):
    ORG_CREATE = "org:create"
    USER_SIGNUP = "user:signup"
    USER_CREATE = "user:create"
    USER_DEACTIVATE = "user:deactivate"
    USER_REACTIVATE = "user:reactivate"
    USER_DELETE = "user:delete"
    USER_PASSWORD_RESET = "user:password_reset"
    MEMBER_ROLE_CHANGE = "member:role_change"
    MEMBER_SWITCH_ORG = "member:switch_org"
    INVITATION_CREATE = "invitation:create"
    INVITATION_DELETE = "invitation:delete"
    INVITATION_ACCEPT = "invitation:accept"
    LOGIN_SUCCESS = "login:success"
    LOGIN_FAILURE = "login:failure"
    LOGIN_THROTTLED = "login:throttled"
    LOGOUT = "login:logout"
    PASSWORD_CHANGE = "password:change"
    PASSWORD_CHANGE_FAILURE = "password:change_failed"
    PASSWORD_TEMPORARY_CHANGE = "password:temporary_change"
    AUDIT_EXPORT = "audit:export"
    SAML_CONFIGURE = "saml:configure"
    SAML_LOGIN_DENIED = "saml:login_denied"
    SAML_LOGOUT = "saml:logout"

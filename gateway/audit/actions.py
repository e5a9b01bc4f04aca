"""The audit vocabulary, as "subject:action"."""

from enum import StrEnum


class AuditAction(StrEnum):
    ORG_CREATE = "org:create"
    USER_SIGNUP = "user:signup"
    USER_CREATE = "user:create"
    LOGIN_SUCCESS = "login:success"
    LOGIN_FAILURE = "login:failure"
    LOGIN_THROTTLED = "login:throttled"
    LOGOUT = "login:logout"
    PASSWORD_CHANGE = "password:change"
    PASSWORD_TEMPORARY_CHANGE = "password:temporary_change"

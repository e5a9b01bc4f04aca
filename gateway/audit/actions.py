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
    ORG_SETTINGS = "org:settings"
    USER_MFA_RESET = "user:mfa_reset"
    MFA_TOTP_ADD = "mfa:totp_add"
    MFA_TOTP_REMOVE = "mfa:totp_remove"
    MFA_RECOVERY_CODES_NEW = "mfa:recovery_codes_new"
    MFA_RECOVERY_CODE_USED = "mfa:recovery_code_used"
    MFA_SUCCESS = "mfa:success"
    MFA_FAILURE = "mfa:failure"
    MFA_THROTTLED = "mfa:throttled"
    MFA_PASSKEY_ADD = "mfa:passkey_add"
    MFA_PASSKEY_REMOVE = "mfa:passkey_remove"
    # A passkey answered with a sign counter lower than before (WebAuthn §6.1.1): probably a copied
    # key. The passkey is refused from then on; the row is for the organization's admins.
    MFA_PASSKEY_COUNTER = "mfa:passkey_counter_went_back"
    ROLE_CREATE = "role:create"
    ROLE_UPDATE = "role:update"
    ROLE_DELETE = "role:delete"
    GROUP_CREATE = "group:create"
    GROUP_UPDATE = "group:update"
    GROUP_DELETE = "group:delete"
    GROUP_MEMBER_ADD = "group:member_add"
    GROUP_MEMBER_REMOVE = "group:member_remove"
    APP_CREATE = "app:create"
    APP_UPDATE = "app:update"
    APP_DELETE = "app:delete"
    OIDC_CLIENT_CREATE = "oidc_client:create"
    OIDC_CLIENT_UPDATE = "oidc_client:update"
    OIDC_CLIENT_DELETE = "oidc_client:delete"
    OIDC_CLIENT_SECRET = "oidc_client:secret_rotate"
    # A code used twice or a refresh token used after its rotation: someone holds a copy, so
    # everything the grant gave is revoked.
    OIDC_REPLAY = "oidc:replay"
    # An organization's OpenID Connect IdP (the client side, issue 21).
    OIDC_IDP_CONFIGURE = "oidc_idp:configure"
    OIDC_IDP_LOGIN_DENIED = "oidc_idp:login_denied"
    OIDC_IDP_LOGOUT = "oidc_idp:logout"  # the IdP's back-channel logout ended sessions
    # Forgot password (issue 24): a link asked for (every answer is audited alike, whatever was typed),
    # and a password set through one.
    PASSWORD_RESET_REQUEST = "password:reset_request"
    PASSWORD_RESET = "password:reset"
    # A session ended by its holder from /account/security, or by an admin (the API).
    SESSION_END = "session:end"
    SESSION_END_OTHERS = "session:end_others"
    # SCIM provisioning (issue 22): an organization's IdP tokens; the changes SCIM makes are audited
    # under the usual actions, with the token as the actor.
    SCIM_TOKEN_CREATE = "scim_token:create"
    SCIM_TOKEN_REVOKE = "scim_token:revoke"
    USER_EMAIL_CHANGE = "user:email_change"  # by the organization's IdP through SCIM

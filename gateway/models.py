"""Imports every model so that Base.metadata is complete (Alembic, tests)."""

from gateway.accounts.models import FederatedIdentity, PasswordReset, User  # noqa: F401
from gateway.audit.models import AuditEvent  # noqa: F401
from gateway.orgs.models import Membership, Organization  # noqa: F401
from gateway.sessions.models import UserSession  # noqa: F401
from gateway.mail.models import OutboxMessage  # noqa: F401
from gateway.tokens.models import Client  # noqa: F401
from gateway.invitations.models import Invitation  # noqa: F401
from gateway.sso.models import (  # noqa: F401
    OidcIdpConnection,
    OidcIdpLoginRequest,
    SamlConnection,
    SamlLoginRequest,
    SeenAssertion,
    SsoEmailDomain,
)
from gateway.ratelimit_storage import RateLimitCounter  # noqa: F401
from gateway.mfa.models import Passkey, PasskeyChallenge, RecoveryCode, TotpFactor  # noqa: F401
from gateway.orgs.models import CustomRole  # noqa: F401
from gateway.groups.models import Group, GroupMember  # noqa: F401
from gateway.apps.models import App, AppHost, AppRoute, AppRuleGroup, AppRuleRole  # noqa: F401
from gateway.oidc.models import BackchannelLogout, OidcClient, OidcClientUri, OidcCode, OidcGrant, OidcToken  # noqa: F401
from gateway.scim.models import ScimToken  # noqa: F401
from gateway.overview.models import ActiveDay, PeopleDay, SigninDay, Snapshot  # noqa: F401

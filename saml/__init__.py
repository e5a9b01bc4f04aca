"""SAML 2.0 service-provider layer on python3-saml.

Builds one organization's SP settings from neutral configuration, creates
AuthnRequests and LogoutRequests, validates responses strictly and hands back
a verified `SamlAssertion`. It knows nothing of Flask views or of our tables:
the gateway decides what an assertion means.
"""

from saml import compiled as _compiled

_compiled.install()

"""SAML 2.0 service-provider layer on python3-saml.

Builds one organization's SP settings from neutral configuration, creates
AuthnRequests and LogoutRequests, validates responses strictly and hands back
a verified `SamlAssertion`. It knows nothing of Flask views or of our tables:
the gateway decides what an assertion means.

The speed-ups of `saml.compiled` are installed by the gateway's `create_app`, not by importing
this package: importing it changes nothing in python3-saml.
"""

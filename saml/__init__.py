"""SAML 2.0 service-provider layer (python3-saml); filled in by the SSO issue."""

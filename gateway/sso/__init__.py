"""Single sign-on: the gateway's side of SAML (connections, ACS, provisioning, logout)."""

"""Second factors: authenticator apps (TOTP), recovery codes, and what an organization requires."""

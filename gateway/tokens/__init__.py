"""Tokens for downstream apps: signing keys, JWTs, JWKS, introspection."""

"""Invitations by magic link."""

"""Outgoing mail through an outbox table."""

"""Delivered mail leaves the outbox: what was sent already goes.

A delivered message's body may hold a magic link, whose code the database
otherwise keeps only as a hash. From this release on, delivery deletes the row.
`sent_at` stays for one release, unused by the new code, so that instances of
the older one keep working during a rolling upgrade (housekeeping deletes what
they send meanwhile).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 19:30:00
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    pass  # the delivered mail is gone, as intended

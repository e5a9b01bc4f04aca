"""Indexes for the reads there are: one (org_id, id) for the audit trail, none twice for memberships.

The audit trail is only ever read one organization at a time, newest first
and paged by id; three single-column indexes (org_id, action, occurred_at)
served that badly and were written again by every event. memberships.org_id
alone is the leading column of two other indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 17:30:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_org_id_id', ['org_id', 'id'], unique=False)
        batch_op.drop_index('ix_audit_events_org_id')
        batch_op.drop_index('ix_audit_events_action')
        batch_op.drop_index('ix_audit_events_occurred_at')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_memberships_org_id')


def downgrade() -> None:
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index('ix_memberships_org_id', ['org_id'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_events_org_id', ['org_id'], unique=False)
        batch_op.drop_index('ix_audit_events_org_id_id')

"""The overview (issue 23): daily sign-in roll-ups, the admin actions' index, trigram search.

- `signin_days`: sign-ins per organization, UTC day, method and outcome, counted as they happen.
- `signin_active_days`: who signed in to an organization on a day (distinct people over 30 days);
  `signin_people_days`: how many of them, a day.
- `overview_snapshots`: the figures over all of an organization's members, at most a minute old.
- `ix_audit_events_admin_actions`: a partial index of the audit rows that are not sign-ins, for the
  overview's recent admin actions.
- PostgreSQL only: the `pg_trgm` extension and GIN trigram indexes on users' names and emails, for
  the team list's search.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 14:40:00
"""
import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_ADMIN_ACTIONS = sa.text("action NOT LIKE 'login:%' AND action NOT LIKE 'mfa:%' AND action NOT LIKE 'password:%' "
                         "AND action <> 'member:switch_org'")


def upgrade() -> None:
    op.create_table(
        'signin_days',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'day', 'method', 'outcome', name=op.f('pk_signin_days')),
    )
    op.create_table(
        'signin_active_days',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'day', 'user_id', name=op.f('pk_signin_active_days')),
    )
    op.create_table(
        'signin_people_days',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'day', name=op.f('pk_signin_people_days')),
    )
    op.create_table(
        'overview_snapshots',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('dormant_days', sa.Integer(), nullable=False),
        sa.Column('computed_at', UTCDateTime(), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'dormant_days', name=op.f('pk_overview_snapshots')),
    )
    op.create_index('ix_audit_events_admin_actions', 'audit_events', ['org_id', 'id'],
                    postgresql_where=_ADMIN_ACTIONS, sqlite_where=_ADMIN_ACTIONS)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index('ix_users_name_trgm', 'users', ['name'], postgresql_using='gin',
                        postgresql_ops={'name': 'gin_trgm_ops'})
        op.create_index('ix_users_email_trgm', 'users', ['email'], postgresql_using='gin',
                        postgresql_ops={'email': 'gin_trgm_ops'})


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_users_email_trgm', table_name='users')
        op.drop_index('ix_users_name_trgm', table_name='users')
        # The extension stays: dropping it could break another schema's use of it.
    op.drop_index('ix_audit_events_admin_actions', table_name='audit_events')
    op.drop_table('overview_snapshots')
    op.drop_table('signin_people_days')
    op.drop_table('signin_active_days')
    op.drop_table('signin_days')

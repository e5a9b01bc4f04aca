"""Groups map to roles (issue 22): `groups.role`, the role a group's members take (null: none).

A built-in role's name (admin, auditor, user) or one of the organization's custom roles' names; the
members of mapped groups have the most privileged of their groups' roles (gateway.groups.roles).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('role', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('role')

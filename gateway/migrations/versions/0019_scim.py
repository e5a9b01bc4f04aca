"""SCIM 2.0 provisioning (issue 22).

- `scim_tokens`: an organization's bearer tokens for its IdP, kept as SHA-256 only, with last use and revocation.
- `memberships.scim_id`, `groups.scim_id`: random ids (UUID4) that SCIM clients address members and
  groups by, filled in here for the rows that exist.
- `memberships.external_id`, `scim_user_name`, `scim_user_key` (userName case-folded, unique per
  organization), `modified_at`, `scim_email_type`, `scim_email_primary`; `groups.external_id`, `display_name`, `modified_at`.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 14:40:00
"""
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _fill_ids(table: str) -> None:
    rows = sa.table(table, sa.column('id', sa.Integer), sa.column('scim_id', sa.String))
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.select(rows.c.id).where(rows.c.scim_id.is_(None)))]
    for row_id in ids:
        bind.execute(sa.update(rows).where(rows.c.id == row_id).values(scim_id=str(uuid.uuid4())))


def upgrade() -> None:
    op.create_table(
        'scim_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_scim_tokens_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_scim_tokens_token_hash')),
    )
    with op.batch_alter_table('scim_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_tokens_org_id'), ['org_id'], unique=False)

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scim_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('scim_user_name', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('scim_user_key', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('modified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scim_email_type', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('scim_email_primary', sa.Boolean(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_memberships_scim_id'), ['scim_id'])
        batch_op.create_unique_constraint('uq_memberships_org_scim_user_key', ['org_id', 'scim_user_key'])
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scim_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('display_name', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('modified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_groups_scim_id'), ['scim_id'])
    _fill_ids('memberships')
    _fill_ids('groups')


def downgrade() -> None:
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_groups_scim_id'), type_='unique')
        batch_op.drop_column('modified_at')
        batch_op.drop_column('display_name')
        batch_op.drop_column('external_id')
        batch_op.drop_column('scim_id')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_constraint('uq_memberships_org_scim_user_key', type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_memberships_scim_id'), type_='unique')
        batch_op.drop_column('scim_email_primary')
        batch_op.drop_column('scim_email_type')
        batch_op.drop_column('modified_at')
        batch_op.drop_column('scim_user_key')
        batch_op.drop_column('scim_user_name')
        batch_op.drop_column('external_id')
        batch_op.drop_column('scim_id')
    with op.batch_alter_table('scim_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_tokens_org_id'))
    op.drop_table('scim_tokens')

"""Second factors: authenticator apps and recovery codes; what a session owes and how it authenticated;
organizations that require a second factor.

Sessions open before this revision authenticated with a password or through an IdP: `amr` starts
empty for them (nothing claimed that was not known) and nothing is owed beyond what `restricted`
already said (a temporary password's change).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:00:00
"""
from alembic import op
import sqlalchemy as sa



revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'totp_factors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret_sealed', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_step', sa.Integer(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_totp_factors_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_totp_factors')),
        sa.UniqueConstraint('user_id', name=op.f('uq_totp_factors_user_id')),
    )
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
        sa.UniqueConstraint('user_id', 'code_hash', name='uq_recovery_codes_user_code'),
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owes', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('amr', sa.String(length=64), nullable=False, server_default=''))
    op.execute("UPDATE sessions SET owes = 'password_change' WHERE restricted")
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mfa_required', sa.Boolean(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('mfa_required')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('amr')
        batch_op.drop_column('owes')
    op.drop_table('recovery_codes')
    op.drop_table('totp_factors')

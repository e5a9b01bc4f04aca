"""Passkeys (WebAuthn credentials) and the single-use challenges of their ceremonies.

Two new tables only: nothing existing changes shape (on SQLite no table is recreated).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 06:00:00
"""
from alembic import op
import sqlalchemy as sa



revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'passkeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.BigInteger(), nullable=False),
        sa.Column('user_handle', sa.LargeBinary(length=64), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('transports', sa.String(length=128), nullable=False),
        sa.Column('discoverable', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_passkeys_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_passkeys')),
        sa.UniqueConstraint('credential_id', name=op.f('uq_passkeys_credential_id')),
    )
    op.create_index(op.f('ix_passkeys_user_id'), 'passkeys', ['user_id'], unique=False)
    op.create_table(
        'passkey_challenges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('challenge_hash', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('user_handle', sa.LargeBinary(length=64), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'],
                                name=op.f('fk_passkey_challenges_session_id_sessions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey_challenges')),
        sa.UniqueConstraint('challenge_hash', name=op.f('uq_passkey_challenges_challenge_hash')),
    )
    op.create_index(op.f('ix_passkey_challenges_expires_at'), 'passkey_challenges', ['expires_at'], unique=False)
    op.create_index(op.f('ix_passkey_challenges_session_id'), 'passkey_challenges', ['session_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_passkey_challenges_session_id'), table_name='passkey_challenges')
    op.drop_index(op.f('ix_passkey_challenges_expires_at'), table_name='passkey_challenges')
    op.drop_table('passkey_challenges')
    op.drop_index(op.f('ix_passkeys_user_id'), table_name='passkeys')
    op.drop_table('passkeys')

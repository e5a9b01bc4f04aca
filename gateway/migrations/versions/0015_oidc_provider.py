"""The OpenID Connect provider: clients (each an application), grants, codes, tokens, back-channel logouts.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('oidc_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('id_token_alg', sa.Enum('RS256', 'ES256', name='signingalg', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('require_consent', sa.Boolean(), nullable=False),
    sa.Column('backchannel_logout_uri', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_oidc_clients_app_id_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_oidc_clients_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_clients')),
    sa.UniqueConstraint('app_id', name=op.f('uq_oidc_clients_app_id')),
    sa.UniqueConstraint('client_id', name=op.f('uq_oidc_clients_client_id'))
    )
    with op.batch_alter_table('oidc_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_clients_org_id'), ['org_id'], unique=False)

    op.create_table('oidc_backchannel_logouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oidc_clients.id'], name=op.f('fk_oidc_backchannel_logouts_client_pk_oidc_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_backchannel_logouts'))
    )
    with op.batch_alter_table('oidc_backchannel_logouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_backchannel_logouts_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_oidc_backchannel_logouts_next_attempt_at'), ['next_attempt_at'], unique=False)

    op.create_table('oidc_client_uris',
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('login', 'logout', name='urikind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['oidc_clients.id'], name=op.f('fk_oidc_client_uris_client_pk_oidc_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_pk', 'kind', 'uri', name=op.f('pk_oidc_client_uris'))
    )
    op.create_table('oidc_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=500), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=True),
    sa.Column('auth_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amr', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('logout_sent', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['oidc_clients.id'], name=op.f('fk_oidc_grants_client_pk_oidc_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_oidc_grants_session_id_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oidc_grants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_grants'))
    )
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.create_index('ix_oidc_grants_client_pk_nonce', ['client_pk', 'nonce'], unique=False)
        batch_op.create_index(batch_op.f('ix_oidc_grants_session_id'), ['session_id'], unique=False)

    op.create_table('oidc_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('redirect_uri', sa.String(length=2000), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['grant_id'], ['oidc_grants.id'], name=op.f('fk_oidc_codes_grant_id_oidc_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_oidc_codes'))
    )
    with op.batch_alter_table('oidc_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_codes_grant_id'), ['grant_id'], unique=False)

    op.create_table('oidc_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('access', 'refresh', name='tokenkind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['grant_id'], ['oidc_grants.id'], name=op.f('fk_oidc_tokens_grant_id_oidc_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_oidc_tokens'))
    )
    with op.batch_alter_table('oidc_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_tokens_grant_id'), ['grant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('oidc_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_tokens_grant_id'))

    op.drop_table('oidc_tokens')
    with op.batch_alter_table('oidc_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_codes_grant_id'))

    op.drop_table('oidc_codes')
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_grants_session_id'))
        batch_op.drop_index('ix_oidc_grants_client_pk_nonce')

    op.drop_table('oidc_grants')
    op.drop_table('oidc_client_uris')
    with op.batch_alter_table('oidc_backchannel_logouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_backchannel_logouts_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_oidc_backchannel_logouts_client_pk'))

    op.drop_table('oidc_backchannel_logouts')
    with op.batch_alter_table('oidc_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_clients_org_id'))

    op.drop_table('oidc_clients')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')

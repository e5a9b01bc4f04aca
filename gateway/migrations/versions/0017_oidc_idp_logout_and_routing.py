"""Sign-out both ways with an organization's OpenID Connect IdP, and the choice of which IdP routes.

- `sessions.sso_id_token_sealed`: the ID token a session began with, sealed (gateway.mfa.sealing),
  sent back as `id_token_hint` when our sign-out goes on to the IdP's `end_session_endpoint`
  (Okta and others refuse a logout without it).
- `ix_sessions_sso_subject`: single and back-channel logout find a person's sessions of one
  organization by the IdP's name for them.
- `oidc_idp_connections.preferred`: while an organization has both a SAML and an OIDC IdP (a
  migration), whether sign-ins go to the OIDC one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sso_id_token_sealed', sa.Text(), nullable=True))
        batch_op.create_index('ix_sessions_sso_subject', ['sso_org_id', 'sso_name_id'], unique=False)
    with op.batch_alter_table('oidc_idp_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('oidc_idp_connections', schema=None) as batch_op:
        batch_op.drop_column('preferred')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_sso_subject')
        batch_op.drop_column('sso_id_token_sealed')

"""Organizations connect an OpenID Connect IdP too: its connection and pending sign-ins; declared
email domains belong to the organization, whichever protocol its IdP speaks.

The domains move from `saml_email_domains` (keyed to a SAML connection) to `sso_email_domains`
(keyed to the organization), each with the organization whose SAML connection declared it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    domains = op.create_table(
        'sso_email_domains',
        sa.Column('domain', sa.String(length=253), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_sso_email_domains_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('domain', name=op.f('pk_sso_email_domains')),
    )
    with op.batch_alter_table('sso_email_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_email_domains_org_id'), ['org_id'], unique=False)
    old = sa.table('saml_email_domains', sa.column('domain', sa.String()), sa.column('connection_id', sa.Integer()))
    connections = sa.table('saml_connections', sa.column('id', sa.Integer()), sa.column('org_id', sa.Integer()))
    op.execute(domains.insert().from_select(
        ['domain', 'org_id'], sa.select(old.c.domain, connections.c.org_id)
        .join(connections, connections.c.id == old.c.connection_id)))
    with op.batch_alter_table('saml_email_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_email_domains_connection_id'))
    op.drop_table('saml_email_domains')

    op.create_table(
        'oidc_idp_connections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=512), nullable=False),
        sa.Column('client_id', sa.String(length=255), nullable=False),
        sa.Column('client_secret_sealed', sa.Text(), nullable=False),
        sa.Column('scopes', sa.String(length=512), nullable=False),
        sa.Column('email_claim', sa.String(length=256), nullable=False),
        sa.Column('name_claim', sa.String(length=256), nullable=False),
        sa.Column('groups_claim', sa.String(length=256), nullable=True),
        sa.Column('trust_email', sa.Boolean(), nullable=False),
        sa.Column('default_role', sa.Enum('admin', 'auditor', 'user', name='role', native_enum=False, create_constraint=True,
                                          length=16), nullable=False),
        sa.Column('admin_groups', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_oidc_idp_connections_org_id_organizations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_idp_connections')),
        sa.UniqueConstraint('org_id', name=op.f('uq_oidc_idp_connections_org_id')),
    )
    op.create_table(
        'oidc_idp_login_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state_hash', sa.String(length=64), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('next_url', sa.String(length=2048), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['oidc_idp_connections.id'],
                                name=op.f('fk_oidc_idp_login_requests_connection_id_oidc_idp_connections'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_idp_login_requests')),
        sa.UniqueConstraint('state_hash', name=op.f('uq_oidc_idp_login_requests_state_hash')),
    )
    with op.batch_alter_table('oidc_idp_login_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_idp_login_requests_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('oidc_idp_login_requests')
    op.drop_table('oidc_idp_connections')
    # Back to SAML connections: a domain of an organization without one has nowhere to go.
    domains = op.create_table(
        'saml_email_domains',
        sa.Column('domain', sa.String(length=253), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['saml_connections.id'],
                                name=op.f('fk_saml_email_domains_connection_id_saml_connections'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('domain', name=op.f('pk_saml_email_domains')),
    )
    with op.batch_alter_table('saml_email_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_email_domains_connection_id'), ['connection_id'], unique=False)
    new = sa.table('sso_email_domains', sa.column('domain', sa.String()), sa.column('org_id', sa.Integer()))
    connections = sa.table('saml_connections', sa.column('id', sa.Integer()), sa.column('org_id', sa.Integer()))
    op.execute(domains.insert().from_select(
        ['domain', 'connection_id'], sa.select(new.c.domain, connections.c.id)
        .join(connections, connections.c.org_id == new.c.org_id)))
    with op.batch_alter_table('sso_email_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sso_email_domains_org_id'))
    op.drop_table('sso_email_domains')

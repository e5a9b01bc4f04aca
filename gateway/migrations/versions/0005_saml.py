"""SAML: connections per organization, pending sign-ins, replay cache, federated identities.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:01:30.671504
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saml_seen_assertions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=512), nullable=False),
    sa.Column('assertion_id', sa.String(length=256), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_seen_assertions')),
    sa.UniqueConstraint('issuer', 'assertion_id', name='uq_saml_seen_assertions_issuer_id')
    )
    with op.batch_alter_table('saml_seen_assertions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_seen_assertions_expires_at'), ['expires_at'], unique=False)

    op.create_table('saml_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('idp_entity_id', sa.String(length=512), nullable=False),
    sa.Column('sso_url', sa.String(length=1024), nullable=False),
    sa.Column('slo_url', sa.String(length=1024), nullable=True),
    sa.Column('signing_certs', sa.JSON(), nullable=False),
    sa.Column('metadata_xml', sa.Text(), nullable=False),
    sa.Column('default_role', sa.Enum('admin', 'user', name='role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('allow_idp_initiated', sa.Boolean(), nullable=False),
    sa.Column('email_domains', sa.JSON(), nullable=False),
    sa.Column('email_attribute', sa.String(length=256), nullable=True),
    sa.Column('name_attribute', sa.String(length=256), nullable=True),
    sa.Column('group_attribute', sa.String(length=256), nullable=True),
    sa.Column('admin_groups', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_saml_connections_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_connections')),
    sa.UniqueConstraint('org_id', name=op.f('uq_saml_connections_org_id'))
    )
    op.create_table('federated_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=512), nullable=False),
    sa.Column('subject', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_federated_identities_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_federated_identities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federated_identities')),
    sa.UniqueConstraint('issuer', 'subject', name='uq_federated_identities_issuer_subject')
    )
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federated_identities_user_id'), ['user_id'], unique=False)

    op.create_table('saml_login_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('relay_state', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('next_url', sa.String(length=2048), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['saml_connections.id'], name=op.f('fk_saml_login_requests_connection_id_saml_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_login_requests')),
    sa.UniqueConstraint('relay_state', name=op.f('uq_saml_login_requests_relay_state'))
    )
    with op.batch_alter_table('saml_login_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_login_requests_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sso_org_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sso_name_id', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('sso_name_id_format', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('sso_session_index', sa.String(length=256), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('sso_session_index')
        batch_op.drop_column('sso_name_id_format')
        batch_op.drop_column('sso_name_id')
        batch_op.drop_column('sso_org_id')

    with op.batch_alter_table('saml_login_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_login_requests_expires_at'))

    op.drop_table('saml_login_requests')
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federated_identities_user_id'))

    op.drop_table('federated_identities')
    op.drop_table('saml_connections')
    with op.batch_alter_table('saml_seen_assertions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_seen_assertions_expires_at'))

    op.drop_table('saml_seen_assertions')

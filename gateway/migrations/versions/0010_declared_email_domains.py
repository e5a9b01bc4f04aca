"""Declared email domains get a table whose key is the domain: one organization each, decided by the database.

Until now the domains were a JSON list on each connection, and `configure`
checked the others' lists before saving its own: two organizations declaring
one domain at once could both pass the check. The connections' lists are
copied here (a domain two organizations hold already stays with the one that
connected first). `saml_connections.email_domains` stays for one release,
read by nothing in the new code, so that instances of the older one keep
routing during a rolling upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    domains = op.create_table(
        'saml_email_domains',
        sa.Column('domain', sa.String(length=253), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['saml_connections.id'],
                                name=op.f('fk_saml_email_domains_connection_id_saml_connections'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('domain', name=op.f('pk_saml_email_domains')),
    )
    with op.batch_alter_table('saml_email_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_email_domains_connection_id'), ['connection_id'], unique=False)

    connections = sa.table('saml_connections', sa.column('id', sa.Integer()), sa.column('email_domains', sa.JSON()))
    owners: dict[str, int] = {}
    for connection_id, declared in op.get_bind().execute(
            sa.select(connections.c.id, connections.c.email_domains).order_by(connections.c.id)):
        for domain in declared or []:
            owners.setdefault(domain, connection_id)
    if owners:
        op.bulk_insert(domains, [{'domain': domain, 'connection_id': connection_id}
                                 for domain, connection_id in owners.items()])


def downgrade() -> None:
    # The connections' lists were kept up to date meanwhile: dropping the table loses nothing.
    with op.batch_alter_table('saml_email_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_email_domains_connection_id'))
    op.drop_table('saml_email_domains')

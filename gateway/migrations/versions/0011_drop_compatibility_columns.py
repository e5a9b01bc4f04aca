"""The two columns kept one release for rolling upgrades go: `outbox.sent_at` and `saml_connections.email_domains`.

Since 0008 delivered mail is deleted instead of marked (`sent_at`), and since 0010 declared domains
live in `saml_email_domains`. Both columns were kept, written or cleaned up, so that instances of
the release before could run beside the new one; that release is gone. Mail such an instance
marked sent and nobody deleted yet goes with its column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 02:00:00
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox = sa.table('outbox', sa.column('sent_at', sa.DateTime(timezone=True)))
    op.execute(outbox.delete().where(outbox.c.sent_at.is_not(None)))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))
        batch_op.drop_column('sent_at')
    with _children_of_saml_connections_kept():
        with op.batch_alter_table('saml_connections', schema=None) as batch_op:
            batch_op.drop_column('email_domains')


@contextmanager
def _children_of_saml_connections_kept():
    """SQLite drops a column by copying the table and dropping the old one, and that DROP deletes
    its rows first: the declared domains and pending sign-ins (ON DELETE CASCADE) would go with
    them. What went is put back (on PostgreSQL nothing goes)."""
    bind = op.get_bind()
    metadata = sa.MetaData()
    children = [sa.Table(name, metadata, autoload_with=bind) for name in ('saml_email_domains', 'saml_login_requests')]
    saved = {child.name: [dict(row._mapping) for row in bind.execute(sa.select(child))] for child in children}
    yield
    for child in children:
        key = list(child.primary_key.columns)
        present = set(bind.execute(sa.select(*key)).all())
        lost = [row for row in saved[child.name] if tuple(row[column.name] for column in key) not in present]
        if lost:
            bind.execute(child.insert(), lost)


def downgrade() -> None:
    with op.batch_alter_table('saml_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_domains', sa.JSON(), nullable=True))
    connections = sa.table('saml_connections', sa.column('id', sa.Integer()), sa.column('email_domains', sa.JSON()))
    domains = sa.table('saml_email_domains', sa.column('domain', sa.String()), sa.column('connection_id', sa.Integer()))
    declared: dict[int, list[str]] = {}
    for domain, connection_id in op.get_bind().execute(sa.select(domains.c.domain, domains.c.connection_id)
                                                       .order_by(domains.c.domain)):
        declared.setdefault(connection_id, []).append(domain)
    for connection_id, listed in declared.items():
        op.execute(connections.update().where(connections.c.id == connection_id).values(email_domains=listed))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)

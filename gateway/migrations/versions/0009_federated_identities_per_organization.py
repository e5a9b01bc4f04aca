"""A federated identity belongs to the organization that linked it: unique per (org, issuer, NameID).

Two organizations may connect IdPs with one entity ID (one Entra ID tenant,
or an admin who copied another's metadata); a link made through one must
never sign anyone in through the other.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:45:00
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.drop_constraint('uq_federated_identities_issuer_subject', type_='unique')
        batch_op.create_unique_constraint('uq_federated_identities_org_issuer_subject',
                                          ['org_id', 'issuer', 'subject'])


def downgrade() -> None:
    # Fails if two organizations linked one (issuer, NameID) since: that is what this revision allows.
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.drop_constraint('uq_federated_identities_org_issuer_subject', type_='unique')
        batch_op.create_unique_constraint('uq_federated_identities_issuer_subject', ['issuer', 'subject'])

"""Registered applications with access rules, groups, the auditor role and custom roles.

The role checks of memberships, invitations and SAML connections admit 'auditor' (on SQLite those
three tables are recreated, their rows kept); everything else is new tables and one new column.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:30:00
"""
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_ROLES = ('admin', 'auditor', 'user')
_OLD_ROLES = ('admin', 'user')
_ROLE_CHECKS = (('memberships', 'role'), ('invitations', 'role'), ('saml_connections', 'default_role'))


def _check_roles(roles) -> None:
    for table, column in _ROLE_CHECKS:
        with _children_kept(table), op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_role'), type_='check')
            batch_op.create_check_constraint(op.f(f'ck_{table}_role'),
                                             sa.column(column).in_(roles))


@contextmanager
def _children_kept(parent: str):
    """SQLite changes a constraint by copying the table and dropping the old one, and that DROP
    deletes the rows that hang on it first (ON DELETE CASCADE): the declared domains and pending
    sign-ins of a SAML connection, say. What went is put back (on PostgreSQL nothing goes)."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    names = [name for name in inspector.get_table_names()
             if any(fk['referred_table'] == parent for fk in inspector.get_foreign_keys(name))]
    metadata = sa.MetaData()
    children = [sa.Table(name, metadata, autoload_with=bind) for name in names]
    saved = {child.name: [dict(row._mapping) for row in bind.execute(sa.select(child))] for child in children}
    yield
    for child in children:
        key = list(child.primary_key.columns)
        present = set(bind.execute(sa.select(*key)).all())
        lost = [row for row in saved[child.name] if tuple(row[column.name] for column in key) not in present]
        if lost:
            bind.execute(child.insert(), lost)


def upgrade() -> None:
    _check_roles(_ROLES)
    op.create_table(
        'custom_roles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_custom_roles_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_roles')),
        sa.UniqueConstraint('org_id', 'name', name='uq_custom_roles_org_name'),
    )
    with _children_kept('memberships'), op.batch_alter_table('memberships') as batch_op:
        batch_op.add_column(sa.Column('custom_role_id', sa.Integer(), nullable=True))
        batch_op.create_index(op.f('ix_memberships_custom_role_id'), ['custom_role_id'], unique=False)
        batch_op.create_foreign_key(op.f('fk_memberships_custom_role_id_custom_roles'), 'custom_roles',
                                    ['custom_role_id'], ['id'], ondelete='SET NULL')
    op.create_table(
        'groups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('sso_name', sa.String(length=256), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_groups_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
        sa.UniqueConstraint('org_id', 'name', name='uq_groups_org_name'),
    )
    op.create_table(
        'group_members',
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('membership_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.Enum('manual', 'sso', 'scim', name='source', native_enum=False, create_constraint=True,
                                    length=16), nullable=False),
        sa.Column('added_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'],
                                name=op.f('fk_group_members_membership_id_memberships'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('group_id', 'membership_id', name=op.f('pk_group_members')),
    )
    op.create_index(op.f('ix_group_members_membership_id'), 'group_members', ['membership_id'], unique=False)
    op.create_table(
        'apps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('access', sa.Enum('everyone', 'listed', name='access', native_enum=False, create_constraint=True,
                                    length=16), nullable=False),
        sa.Column('requires_mfa', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_apps_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_apps')),
        sa.UniqueConstraint('org_id', 'name', name='uq_apps_org_name'),
    )
    op.create_table(
        'app_hosts',
        sa.Column('host', sa.String(length=262), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_app_hosts_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('host', name=op.f('pk_app_hosts')),
    )
    op.create_index(op.f('ix_app_hosts_org_id'), 'app_hosts', ['org_id'], unique=False)
    op.create_table(
        'app_routes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('app_id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=262), nullable=False),
        sa.Column('path_prefix', sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_routes_app_id_apps'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['host'], ['app_hosts.host'], name=op.f('fk_app_routes_host_app_hosts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_app_routes')),
        sa.UniqueConstraint('host', 'path_prefix', name='uq_app_routes_host_path_prefix'),
    )
    op.create_index(op.f('ix_app_routes_app_id'), 'app_routes', ['app_id'], unique=False)
    op.create_table(
        'app_rule_roles',
        sa.Column('app_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_rule_roles_app_id_apps'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('app_id', 'role', name=op.f('pk_app_rule_roles')),
    )
    op.create_table(
        'app_rule_groups',
        sa.Column('app_id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_rule_groups_app_id_apps'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_app_rule_groups_group_id_groups'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('app_id', 'group_id', name=op.f('pk_app_rule_groups')),
    )
    op.create_index(op.f('ix_app_rule_groups_group_id'), 'app_rule_groups', ['group_id'], unique=False)


def downgrade() -> None:
    for name in ('app_rule_groups', 'app_rule_roles', 'app_routes', 'app_hosts', 'apps', 'group_members', 'groups'):
        op.drop_table(name)
    with _children_kept('memberships'), op.batch_alter_table('memberships') as batch_op:
        batch_op.drop_constraint(op.f('fk_memberships_custom_role_id_custom_roles'), type_='foreignkey')
        batch_op.drop_index(op.f('ix_memberships_custom_role_id'))
        batch_op.drop_column('custom_role_id')
    op.drop_table('custom_roles')
    _check_roles(_OLD_ROLES)

"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

import gateway.models  # noqa: F401
from gateway import create_app
from gateway.db import Base
from gateway.migrate import upgrade
from gateway.orgs.models import Organization
from gateway.sso.models import SamlConnection, SamlEmailDomain

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_migrations_match_the_models(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    assert compare_metadata(context, Base.metadata) == []


def test_revision_0010_gives_each_declared_domain_to_the_organization_that_connected_first(served_database_url):
    # A database that commits for real, as `idgate init` upgrades one, on the suite's kind of database.
    app = create_app({"DATABASE_URL": served_database_url, "SECRET_KEY": "test"})
    upgrade(app, "0009")
    orgs, connections = Organization.__table__, SamlConnection.__table__
    with app.extensions["idgate.engine"].begin() as conn:
        for org_id, domains in ((1, ["first.example", "both.example"]), (2, ["both.example", "second.example"]),
                                (3, [])):
            conn.execute(insert(orgs).values(id=org_id, slug=f"org{org_id}", name=f"Org {org_id}", created_at=NOW))
            conn.execute(insert(connections).values(
                id=org_id, org_id=org_id, idp_entity_id="https://idp.example.org", sso_url="https://idp.example.org/sso",
                signing_certs=[], metadata_xml="<md/>", default_role="user", allow_idp_initiated=False,
                email_domains=domains, admin_groups=[], created_at=NOW, updated_at=NOW))

    upgrade(app)

    with app.extensions["idgate.engine"].connect() as conn:
        declared = dict(conn.execute(select(SamlEmailDomain.domain, SamlEmailDomain.connection_id)).all())
    app.extensions["idgate.engine"].dispose()
    assert declared == {"first.example": 1, "both.example": 1, "second.example": 2}

"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, MetaData, column, insert, select, table

import gateway.models  # noqa: F401
from gateway import create_app
from gateway.db import Base, UTCDateTime
from gateway.migrate import upgrade

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
LISTS = {"signing_certs", "email_domains", "admin_groups"}

# Organizations as the older revisions know them (the model has columns added later).
ORGANIZATIONS = table("organizations", column("id"), column("slug"), column("name"),
                      column("created_at", UTCDateTime))


def test_migrations_match_the_models(connection):
    def on_this_dialect(obj, name, type_, reflected, compare_to):
        # An index declared for one dialect only (`.ddl_if(dialect=…)`, the trigram ones) is
        # compared on that dialect alone, as create_all would make it there alone.
        condition = getattr(compare_to if reflected else obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, connection.dialect.name)

    context = MigrationContext.configure(connection, opts={"compare_type": False, "include_object": on_this_dialect})
    assert compare_metadata(context, Base.metadata) == []


def test_revision_0010_gives_each_declared_domain_to_the_organization_that_connected_first(served_database_url):
    # A database that commits for real, as `idgate init` upgrades one, on the suite's kind of database.
    app = create_app({"DATABASE_URL": served_database_url, "SECRET_KEY": "test"})
    upgrade(app, "0009")
    # The table as revision 0009 had it (the model has no email_domains since 0011).
    orgs = ORGANIZATIONS
    connections = table("saml_connections", *(column(name, JSON if name in LISTS else None) for name in (
        "id", "org_id", "idp_entity_id", "sso_url", "signing_certs", "metadata_xml", "default_role",
        "allow_idp_initiated", "email_domains", "admin_groups")), column("created_at", UTCDateTime),
        column("updated_at", UTCDateTime))
    with app.extensions["idgate.engine"].begin() as conn:
        for org_id, domains in ((1, ["first.example", "both.example"]), (2, ["both.example", "second.example"]),
                                (3, [])):
            conn.execute(insert(orgs).values(id=org_id, slug=f"org{org_id}", name=f"Org {org_id}", created_at=NOW))
            conn.execute(insert(connections).values(
                id=org_id, org_id=org_id, idp_entity_id="https://idp.example.org", sso_url="https://idp.example.org/sso",
                signing_certs=[], metadata_xml="<md/>", default_role="user", allow_idp_initiated=False,
                email_domains=domains, admin_groups=[], created_at=NOW, updated_at=NOW))

    upgrade(app, "0010")

    domains = table("saml_email_domains", column("domain"), column("connection_id"))  # (until 0016)
    with app.extensions["idgate.engine"].connect() as conn:
        declared = dict(conn.execute(select(domains.c.domain, domains.c.connection_id)).all())
    app.extensions["idgate.engine"].dispose()
    assert declared == {"first.example": 1, "both.example": 1, "second.example": 2}


def test_revision_0011_drops_the_compatibility_columns_and_keeps_what_hangs_on_them(served_database_url):
    app = create_app({"DATABASE_URL": served_database_url, "SECRET_KEY": "test"})
    upgrade(app, "0010")
    engine = app.extensions["idgate.engine"]
    before = MetaData()
    before.reflect(engine)
    with engine.begin() as conn:
        conn.execute(insert(ORGANIZATIONS).values(id=1, slug="acme", name="Acme", created_at=NOW))
        conn.execute(insert(before.tables["saml_connections"]).values(
            id=1, org_id=1, idp_entity_id="https://idp.example.org", sso_url="https://idp.example.org/sso",
            signing_certs=[], metadata_xml="<md/>", default_role="user", allow_idp_initiated=False,
            email_domains=["acme.example"], admin_groups=[], created_at=NOW, updated_at=NOW))
        conn.execute(insert(before.tables["saml_email_domains"]).values(domain="acme.example", connection_id=1))
        conn.execute(insert(before.tables["saml_login_requests"]).values(
            id=7, relay_state="r" * 43, request_id="_req", connection_id=1, expires_at=NOW))
        for message_id, sent in ((1, NOW), (2, None)):
            conn.execute(insert(before.tables["outbox"]).values(
                id=message_id, recipient="a@example.com", subject="Hi", body="…", created_at=NOW, attempts=0,
                next_attempt_at=NOW, sent_at=sent))

    upgrade(app, "0011")

    after = MetaData()
    after.reflect(engine)
    with engine.connect() as conn:
        domains = conn.execute(select(after.tables["saml_email_domains"].c.domain)).scalars().all()
        pending = conn.execute(select(after.tables["saml_login_requests"].c.id)).scalars().all()
        mail = conn.execute(select(after.tables["outbox"].c.id)).scalars().all()
    engine.dispose()
    assert "email_domains" not in after.tables["saml_connections"].c and "sent_at" not in after.tables["outbox"].c
    assert domains == ["acme.example"] and pending == [7]
    assert mail == [2]  # mail an older instance had marked sent goes with its column


def test_revision_0016_gives_each_declared_domain_to_its_organization(served_database_url):
    app = create_app({"DATABASE_URL": served_database_url, "SECRET_KEY": "test"})
    upgrade(app, "0015")
    engine = app.extensions["idgate.engine"]
    before = MetaData()
    before.reflect(engine)
    with engine.begin() as conn:
        conn.execute(insert(ORGANIZATIONS).values(id=4, slug="acme", name="Acme", created_at=NOW))
        conn.execute(insert(before.tables["saml_connections"]).values(
            id=9, org_id=4, idp_entity_id="https://idp.example.org", sso_url="https://idp.example.org/sso",
            signing_certs=[], metadata_xml="<md/>", default_role="user", allow_idp_initiated=False,
            admin_groups=[], created_at=NOW, updated_at=NOW))
        conn.execute(insert(before.tables["saml_email_domains"]).values(domain="acme.example", connection_id=9))

    upgrade(app)

    after = MetaData()
    after.reflect(engine)
    with engine.connect() as conn:
        declared = conn.execute(select(after.tables["sso_email_domains"])).all()
    engine.dispose()
    assert "saml_email_domains" not in after.tables
    assert [tuple(row) for row in declared] == [("acme.example", 4)]

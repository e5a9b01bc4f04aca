"""An IdP's metadata and an organization connected to it, for the SSO services."""

from __future__ import annotations

import pytest

from gateway.actor import Actor
from gateway.sso import connections
from tests.factories import OrganizationFactory
from tests.helpers.idp import TestIdP


@pytest.fixture(scope="session")
def idp(tmp_path_factory) -> TestIdP:
    return TestIdP(tmp_path_factory.mktemp("idp"))


@pytest.fixture
def settings(app):
    return app.extensions["idgate.settings"]


@pytest.fixture
def acme(db, idp, clock):
    """Organization acme, its IdP connected for acme.example.com."""
    org = OrganizationFactory(slug="acme", name="Acme")
    db.flush()
    connections.configure(db, org.id, metadata_xml=idp.metadata_xml(), email_domains=["acme.example.com"],
                          actor=Actor(), now=clock.now())
    return org


@pytest.fixture(autouse=True)
def app_context(app):
    """`next` targets are checked against the app's allowed hosts."""
    with app.app_context():
        yield

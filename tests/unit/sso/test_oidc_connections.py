"""gateway.sso.oidc_connections.configure: `client_secret=None` keeps the sealed secret, and is refused
(before the IdP is asked) when there is no connection to keep one of."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.actor import Actor
from gateway.errors import BadRequest
from gateway.sso import oidc_connections
from gateway.sso.models import OidcIdpConnection
from tests.factories import OrganizationFactory

ISSUER = "https://idp.example.com"


@pytest.fixture
def org(db):
    org = OrganizationFactory()
    db.flush()
    return org


@pytest.fixture
def configure(db, org, settings, clock):
    """configure() for `org`, its discovery answered without a network (the calls are kept in `.asked`)."""
    def call(**fields):
        return oidc_connections.configure(
            db, org.id, **{"issuer": ISSUER, "client_id": "idgate", "client_secret": "s3cret", **fields},
            certs_dir=settings.certs_dir, actor=Actor(), now=clock.now(), discover=call.asked.append)
    call.asked = []
    return call


def _sealed(db, org) -> str:
    return db.scalar(select(OidcIdpConnection.client_secret_sealed).where(OidcIdpConnection.org_id == org.id))


class TestKeepingTheSecret:
    def test_none_keeps_the_sealed_secret_as_it_is(self, db, org, settings, configure):
        configure()
        kept = _sealed(db, org)

        saved = configure(client_secret=None, client_id="renamed")

        assert saved.client_id == "renamed"
        assert _sealed(db, org) == kept
        connection = oidc_connections.oidc_connection(db, org.slug)
        assert oidc_connections.client_secret(connection, settings.certs_dir) == "s3cret"

    def test_none_with_no_connection_yet_is_refused_before_the_idp_is_asked(self, db, org, configure):
        with pytest.raises(BadRequest) as refused:
            configure(client_secret=None)

        assert (refused.value.code, refused.value.field) == ("invalid_field", "client_secret")
        assert configure.asked == []
        assert oidc_connections.oidc_settings(db, org.id) is None

    @pytest.mark.parametrize("secret", ["", "  ", 42])
    def test_a_secret_given_is_still_checked(self, db, org, configure, secret):
        configure()

        with pytest.raises(BadRequest) as refused:
            configure(client_secret=secret)

        assert refused.value.field == "client_secret"

"""'Continue with SSO': a work email's declared domain, or an organization's short name."""

from __future__ import annotations

import pytest

from gateway.errors import NotFound
from gateway.sso import routing
from tests.factories import OrganizationFactory


def test_an_email_goes_to_the_organization_that_declared_its_domain(db, acme):
    assert routing.route(db, " Ann@ACME.example.com ") == "acme"


def test_a_short_name_goes_to_that_organization(db, acme):
    assert routing.route(db, "Acme") == "acme"


@pytest.mark.parametrize("who", ["ann@nowhere.example", "ann@", "ann@not a domain", "nobody", ""])
def test_nothing_configured_is_not_found(db, acme, who):
    with pytest.raises(NotFound):
        routing.route(db, who)


def test_an_organization_without_an_idp_is_not_a_destination(db):
    OrganizationFactory(slug="plain")
    db.flush()
    with pytest.raises(NotFound):
        routing.route(db, "plain")


def test_the_destination_names_the_organization_and_its_idp(db, acme, idp):
    destination = routing.destination(db, "acme")
    assert destination.name == "Acme" and destination.sign_in_url == idp.sso_url

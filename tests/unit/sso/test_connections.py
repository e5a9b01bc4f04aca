"""An organization's IdP connection: configured from metadata, read back, its domains declared once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.actor import Actor
from gateway.audit.actions import AuditAction
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.orgs.models import Role
from gateway.sso import connections
from gateway.sso.connections import SsoNotConfigured
from gateway.sso.models import SamlConnection
from tests.factories import OrganizationFactory


def _configure(db, org, idp, clock, **options):
    return connections.configure(db, org.id, metadata_xml=idp.metadata_xml(), actor=Actor(), now=clock.now(),
                                 **options)


def test_a_connection_is_read_back_as_configured_with_its_domains(db, idp, clock):
    org = OrganizationFactory()
    db.flush()

    configured = _configure(db, org, idp, clock, default_role="admin", email_domains="B.example, a.example",
                            admin_groups=["ops", "ops", "it"], group_attribute=" memberOf ")

    assert configured == connections.idp_settings(db, org.id)
    assert configured.idp_entity_id == idp.entity_id and configured.default_role is Role.ADMIN
    assert configured.email_domains == ["a.example", "b.example"]
    assert configured.admin_groups == ["ops", "it"] and configured.group_attribute == "memberOf"


def test_configuring_again_replaces_the_connection_and_its_domains(db, acme, idp, clock):
    _configure(db, acme, idp, clock, email_domains=["acme.example.org"])

    assert db.scalar(select(func.count()).select_from(SamlConnection)) == 1
    assert connections.declared_domains(db, acme.id) == ["acme.example.org"]


def test_each_configuration_is_audited(db, acme):
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == AuditAction.SAML_CONFIGURE))
    assert event.org_id == acme.id and event.details["email_domains"] == ["acme.example.com"]


@pytest.mark.parametrize("options, code", [
    ({"metadata_xml": "<not metadata/>"}, "invalid_metadata"),
    ({"default_role": "owner"}, "unknown_role"),
    ({"allow_idp_initiated": "yes"}, "invalid_field"),
    ({"email_domains": ["not a domain"]}, "invalid_domain"),
    ({"admin_groups": [1, 2]}, "invalid_field"),
    ({"email_attribute": "x" * 257}, "invalid_field"),
])
def test_bad_settings_are_refused(db, idp, clock, options, code):
    org = OrganizationFactory()
    db.flush()
    options.setdefault("metadata_xml", idp.metadata_xml())

    with pytest.raises(BadRequest) as refused:
        connections.configure(db, org.id, actor=Actor(), now=clock.now(), **options)

    assert refused.value.code == code


def test_a_domain_another_organization_declared_is_refused(db, acme, idp, clock):
    other = OrganizationFactory()
    db.flush()

    with pytest.raises(Conflict) as refused:
        _configure(db, other, idp, clock, email_domains=["ACME.example.com"])

    assert refused.value.code == "domain_taken" and refused.value.field == "email_domains"


def test_domains_are_declared_as_email_addresses_carry_them(db, idp, clock):
    org = OrganizationFactory()
    db.flush()
    assert _configure(db, org, idp, clock, email_domains=["Bücher.example"]).email_domains == ["xn--bcher-kva.example"]


def test_an_organization_without_a_connection(db):
    org = OrganizationFactory()
    db.flush()

    assert connections.idp_settings(db, org.id) is None
    with pytest.raises(SsoNotConfigured):
        connections.idp_connection(db, org.slug)
    with pytest.raises(NotFound):
        connections.idp_connection(db, "no-such-org")


def test_domain_claims_say_whose_a_domain_is(db, acme, idp, clock):
    other = OrganizationFactory()
    db.flush()
    _configure(db, other, idp, clock)
    claim = connections.domain_claims(db, connections.idp_connection(db, other.slug).org_id)

    assert claim("acme.example.com").elsewhere and not claim("acme.example.com").here
    assert not claim("free.example").elsewhere and not claim("free.example").declares_any

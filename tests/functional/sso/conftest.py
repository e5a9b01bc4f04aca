"""SAML fixtures: a pysaml2 IdP (written independently of python3-saml) trusting our SP."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest

from gateway.actor import Actor
from gateway.clock import FrozenClock
from gateway.sso import connections
from tests.factories import MembershipFactory, OrganizationFactory
from tests.helpers.idp import TestIdP

EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


@pytest.fixture
def clock():
    # pysaml2 stamps assertions with the real time: our clock starts there too.
    return FrozenClock(datetime.now(timezone.utc))


@pytest.fixture(scope="session")
def idp(tmp_path_factory) -> TestIdP:
    return TestIdP(tmp_path_factory.mktemp("idp"))


@pytest.fixture(scope="session")
def other_idp(tmp_path_factory) -> TestIdP:
    """Another organization's IdP, with its own key."""
    return TestIdP(tmp_path_factory.mktemp("idp2"), entity_id="https://other-idp.example.net/idp",
                   base_url="https://other-idp.example.net")


def connect(db, client, idp: TestIdP, org, clock, **options):
    """Configure `org` to trust `idp`, and `idp` to trust org's SP metadata."""
    idp.trust_sp(client.get(f"/saml/{org.slug}/metadata").get_data(as_text=True))
    options.setdefault("email_domains", ["acme.example.com"])
    connection = connections.configure(db, org.id, metadata_xml=idp.metadata_xml(), actor=Actor(), now=clock.now(),
                               **options)
    db.flush()
    return connection


@pytest.fixture
def acme(db, client, idp, clock):
    """Organization "acme" with an admin and its IdP connected (domain acme.example.com)."""
    org = OrganizationFactory(slug="acme", name="Acme")
    MembershipFactory(org=org, admin=True, user__email="boss@acme.example.com")
    db.flush()
    connect(db, client, idp, org, clock)
    return org


class Browser:
    """A browser that signs in through the IdP, the way a person does."""

    def __init__(self, client, idp: TestIdP):
        self.client, self.idp = client, idp

    def start(self, slug="acme", next_url="/account"):
        response = self.client.get(f"/saml/{slug}/login", query_string={"next": next_url} if next_url else {})
        assert response.status_code == 302, response.get_data(as_text=True)
        return self.idp.read_authn_request(response.headers["Location"])

    def answer(self, request: dict, *, name_id="ann@acme.example.com", attributes=None, idp=None, **kw) -> str:
        return (idp or self.idp).response(
            sp_entity_id=request["sp_entity_id"], acs_url=request["acs_url"], in_response_to=request["id"],
            name_id=name_id, attributes=attributes if attributes is not None else {
                "email": [name_id], "displayName": ["Ann Example"]}, **kw)

    def post(self, saml_response: str, relay_state: str | None, slug="acme"):
        data = {"SAMLResponse": saml_response}
        if relay_state is not None:
            data["RelayState"] = relay_state
        return self.client.post(f"/saml/{slug}/acs", data=data)

    def sign_in(self, slug="acme", next_url="/account", **kw):
        request = self.start(slug, next_url)
        return self.post(self.answer(request, **kw), request["relay_state"], slug)


@pytest.fixture
def browser(client, idp) -> Browser:
    return Browser(client, idp)


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode()

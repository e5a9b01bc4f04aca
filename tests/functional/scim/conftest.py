"""A SCIM client of one organization: `scim.post("/Users", json=…)` with its token."""

from __future__ import annotations

import pytest

from gateway.actor import Actor
from gateway.scim import tokens
from tests.factories import MembershipFactory

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    def __init__(self, client, org, token, admin):
        self.client, self.org, self.token, self.admin = client, org, token, admin
        self.headers = {"Authorization": f"Bearer {token}"}

    def url(self, path: str) -> str:
        return f"/scim/v2/{self.org.slug}{path}"

    def _call(self, method, path, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        if "json" in kw:
            import json

            kw["data"] = json.dumps(kw.pop("json"))
            kw.setdefault("content_type", SCIM_JSON)
        return getattr(self.client, method)(self.url(path), headers=headers, **kw)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, **kw):
        return self._call("post", path, **kw)

    def put(self, path, **kw):
        return self._call("put", path, **kw)

    def patch(self, path, **kw):
        return self._call("patch", path, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)

    def ops(self, path, *operations, **kw):
        return self.patch(path, json={"schemas": [PATCH], "Operations": list(operations)}, **kw)

    def new_user(self, user_name: str, email: str | None = None, **extra) -> dict:
        body = {"schemas": [USER], "userName": user_name, "emails": [{"value": email or user_name, "primary": True}],
                **extra}
        response = self.post("/Users", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def scim(app, db, client, clock):
    """An organization with an admin, and a SCIM token for it."""
    admin = MembershipFactory(admin=True)
    db.flush()
    _row, token = tokens.create(db, admin.org_id, Actor(user_agent="test"), name="Test IdP", now=clock.now())
    db.flush()
    return Scim(client, admin.org, token, admin)


def saml_connection(db, org, *, domains=(), clock=None):
    """Give the organization a SAML IdP (enough for 'has SSO'), with declared domains."""
    from datetime import datetime, timezone

    from gateway.sso.models import SamlConnection, SsoEmailDomain

    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    db.add(SamlConnection(org_id=org.id, idp_entity_id=f"https://idp.example/{org.slug}", sso_url="https://idp.example/sso",
                          signing_certs=[], metadata_xml="<x/>", created_at=when, updated_at=when))
    for domain in domains:
        db.add(SsoEmailDomain(domain=domain, org_id=org.id))
    db.flush()

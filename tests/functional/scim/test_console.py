"""/admin/scim: tokens created (shown once), listed with their last use, revoked."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.scim.models import ScimToken
from tests.conftest import csrf_token


def test_create_list_and_revoke(client, db, signed_in_admin):
    page = client.get("/admin/scim")
    assert page.status_code == 200 and f"/scim/v2/{signed_in_admin.org.slug}" in page.get_data(as_text=True)
    created = client.post("/admin/scim", data={"name": "Entra ID", "csrf_token": csrf_token(client, "/admin/scim")})
    assert created.status_code == 201
    token = re.search(r'id="scim-token">(idgscim_[^<]+)<', created.get_data(as_text=True)).group(1)
    assert client.get(f"/scim/v2/{signed_in_admin.org.slug}/Users",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = client.get("/admin/scim").get_data(as_text=True)
    assert "Entra ID" in listing and token not in listing and "never" not in listing
    row = db.scalar(select(ScimToken).where(ScimToken.org_id == signed_in_admin.org_id))
    revoked = client.post(f"/admin/scim/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/admin/scim")})
    assert revoked.status_code == 303
    assert client.get(f"/scim/v2/{signed_in_admin.org.slug}/Users",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "revoked" in client.get("/admin/scim").get_data(as_text=True)


def test_another_organizations_token_cannot_be_revoked(client, db, signed_in_admin):
    from gateway.actor import Actor
    from gateway.scim import tokens
    from tests.factories import MembershipFactory

    other = MembershipFactory(admin=True).org
    db.flush()
    row, _token = tokens.create(db, other.id, Actor(), name="Theirs", now=signed_in_admin.joined_at)
    db.flush()
    response = client.post(f"/admin/scim/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/admin/scim")})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(ScimToken, row.id).revoked_at is None

"""Every API body is checked against the shape it is declared with (gateway.api.schemas), and the
OpenAPI document describes the same declarations: a wrong type, a missing or an unknown field is a
400 naming it, with nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.api.schemas import BODIES, NewUser
from tests.conftest import bearer


@pytest.fixture
def post_user(client, signed_in_admin):
    def post(body):
        return client.post(f"/api/v1/orgs/{signed_in_admin.org.slug}/users", json=body, headers=bearer(client))
    return post


@pytest.mark.parametrize("body, field", [
    ({"email": "ada@example.com", "name": [None, None]}, "name"),  # schemathesis made a user named "[None, None]"
    ({"email": 12345, "name": "Ada Lovelace"}, "email"),
    ({"email": "ada@example.com", "name": "Ada Lovelace", "role": ["admin"]}, "role"),
    ({"name": "Ada Lovelace"}, "email"),
    ({"email": "ada@example.com", "name": "Ada Lovelace", "admin": True}, "admin"),
])
def test_a_body_of_the_wrong_shape_is_a_400_naming_the_field(post_user, db, body, field):
    users_before = db.scalar(select(func.count()).select_from(User))
    response = post_user(body)

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_field"
    assert response.json["error"]["message"].startswith(f"`{field}`")
    assert db.scalar(select(func.count()).select_from(User)) == users_before


def test_what_the_values_mean_stays_the_services_to_say(post_user):
    response = post_user({"email": "not an address", "name": "Ada Lovelace"})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_email"


def test_the_openapi_document_describes_the_declared_bodies(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]

    for body in BODIES:
        assert schemas[body.__name__] == body.model_json_schema()
    assert schemas["NewUser"]["additionalProperties"] is False and set(schemas["NewUser"]["required"]) == {"email", "name"}
    assert NewUser.model_json_schema()["properties"]["name"]["type"] == "string"


def test_a_method_the_url_does_not_take_is_a_405_that_says_which_it_takes(client, signed_in_admin):
    response = client.put(f"/api/v1/orgs/{signed_in_admin.org.slug}/users", headers=bearer(client), json={})

    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert client.put("/login").headers["Allow"]

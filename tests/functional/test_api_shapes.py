"""Every API body and query is checked against the shape it is declared with (gateway.api.schemas),
every answer is serialized through its declaration, and the OpenAPI document describes the same
declarations: a wrong type, a missing or an unknown field is a 400 naming it, with nothing written."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.api.schemas import BODIES, NewUser
from tests.conftest import bearer
from tests.factories import MembershipFactory


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


def _documented(spec: dict, method: str, path: str, status: int) -> dict:
    """The schema the document gives the JSON answer of `method path` with `status`."""
    answer = spec["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return answer["content"]["application/json"]["schema"]


def test_every_api_route_declares_its_operation_and_the_document_describes_it(app, client):
    spec = client.get("/api/v1/openapi.json").json
    routes = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]

    methods: dict[str, set] = {}
    for rule in routes:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        methods.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
        if rule.endpoint != "api.openapi":
            assert hasattr(app.view_functions[rule.endpoint], "api_operation"), f"{rule.endpoint}: no @operation"
    assert len(methods) > 5
    assert methods == {path: set(operations) for path, operations in spec["paths"].items()}
    assert spec["components"]["securitySchemes"]["session"] == {
        "type": "http", "scheme": "bearer", "description": "An admin's idgate_session token."}


def test_each_operation_documents_the_refusals_it_can_answer(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    def statuses(path, method):
        return sorted(int(s) for s in paths[path][method]["responses"])
    assert statuses("/orgs/{slug}/users", "post") == [201, 400, 401, 403, 404, 409, 413, 415, 503]
    assert statuses("/orgs/{slug}/users", "get") == [200, 400, 401, 403, 404, 503]
    assert statuses("/orgs/{slug}/users/{user_id}", "get") == [200, 401, 403, 404, 503]
    assert statuses("/orgs/{slug}/users/{user_id}/deactivate", "post") == [200, 401, 403, 404, 409, 415, 503]
    assert statuses("/orgs/{slug}/users/{user_id}/reset-password", "post") == [200, 400, 401, 403, 404, 409, 415,
                                                                             503]
    assert set(paths["/orgs/{slug}/audit"]["get"]["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert paths["/openapi.json"]["get"]["security"] == []


def test_answers_are_serialized_as_the_document_describes_them(client, signed_in_admin, db):
    spec, slug, headers = client.get("/api/v1/openapi.json").json, signed_in_admin.org.slug, bearer(client)
    MembershipFactory(org=signed_in_admin.org, user__name="Kept Member")
    db.flush()
    seen = []

    def call(method, path, status, **kw):
        response = client.open(f"/api/v1{path.format(slug=slug, **ids)}", method=method, headers=headers, **kw)
        assert response.status_code == status, response.json
        errors = [e.message for e in jsonschema_rs.validator_for(
            {**_documented(spec, method, path, status), "components": spec["components"]},
            validate_formats=True).iter_errors(response.json)]
        assert errors == [], (method, path, response.json)
        seen.append(response.json)
        return response.json

    ids = {}
    ids["user_id"] = call("POST", "/orgs/{slug}/users", 201, json={"email": "ada@example.com",
                                                                 "name": "Ada Lovelace"})["user"]["id"]
    call("GET", "/orgs/{slug}/users", 200)
    call("GET", "/orgs/{slug}/users/{user_id}", 200)
    call("PATCH", "/orgs/{slug}/users/{user_id}", 200, json={"role": "admin"})
    call("POST", "/orgs/{slug}/users/{user_id}/deactivate", 200)
    call("POST", "/orgs/{slug}/users/{user_id}/reactivate", 200)
    call("POST", "/orgs/{slug}/users/{user_id}/reset-password", 200)
    call("DELETE", "/orgs/{slug}/users/{user_id}", 200)
    ids["invitation_id"] = call("POST", "/orgs/{slug}/invitations", 201,
                                json={"email": "grace@example.com"})["invitation"]["id"]
    call("GET", "/orgs/{slug}/invitations", 200)
    call("DELETE", "/orgs/{slug}/invitations/{invitation_id}", 200)
    call("GET", "/orgs/{slug}/saml", 200)
    call("GET", "/orgs/{slug}/oidc", 200)
    call("GET", "/orgs/{slug}/audit", 200)
    call("GET", "/orgs/{slug}/users/{user_id}", 404)
    call("PATCH", "/orgs/{slug}/users/{user_id}", 400, json={"role": 1})
    call("POST", "/orgs/{slug}/invitations", 415, data="email=x", content_type="text/plain")
    headers = {}
    call("GET", "/orgs/{slug}/users", 401)

    assert seen[0]["user"]["joined_at"].endswith("+00:00")  # isoformat(), as before the declarations
    assert seen[-1] == {"error": {"code": "unauthorized", "message": seen[-1]["error"]["message"]}}


@pytest.mark.parametrize("query, code", [
    ("/users?after=abc", "bad_cursor"),
    ("/users?limit=ten", "bad_filter"),
    ("/users?status=gone", "bad_filter"),
    ("/audit?format=xml", "bad_format"),
    ("/audit?until=0.5", "bad_filter"),  # schemathesis: pydantic alone read it as a Unix time
    ("/audit?before=0", "bad_filter"),
])
def test_a_query_parameter_that_does_not_fit_is_a_400_naming_it(client, signed_in_admin, query, code):
    response = client.get(f"/api/v1/orgs/{signed_in_admin.org.slug}{query}", headers=bearer(client))

    assert response.status_code == 400 and response.json["error"]["code"] == code
    assert response.json["error"]["message"].startswith(f"`{query.split('?')[1].split('=')[0]}`")


def test_an_empty_query_parameter_is_one_left_out(client, signed_in_admin):
    response = client.get(f"/api/v1/orgs/{signed_in_admin.org.slug}/users?status=&role=&after=&limit=",
                          headers=bearer(client))

    assert response.status_code == 200 and response.json["users"][0]["email"] == signed_in_admin.user.email

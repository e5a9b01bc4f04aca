"""The shortest path through the gateway: sign up, then a downstream app asks who this is."""

from tests.conftest import STRONG_PASSWORD, csrf_token


def test_sign_up_then_verify_reports_the_new_admin(client):
    response = client.post("/signup", data={
        "csrf_token": csrf_token(client, "/signup"), "org_name": "Acme", "org_slug": "acme",
        "name": "Ada Lovelace", "email": "Ada@Example.com", "password": STRONG_PASSWORD,
    })
    assert response.status_code == 303

    verify = client.get("/auth/verify")
    assert verify.status_code == 200
    assert verify.headers["X-Auth-Email"] == "ada@example.com"
    assert verify.headers["X-Auth-Org"] == "acme"
    assert verify.headers["X-Auth-Role"] == "admin"


def test_factories_and_login(db, auth, client):
    from tests.factories import member

    user = member()
    assert auth.login(user.email).status_code == 303
    assert client.get("/auth/verify").headers["X-Auth-User-Id"] == str(user.id)
